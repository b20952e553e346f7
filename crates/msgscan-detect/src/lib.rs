//! Detectors: syntax trees in, messaging facts out
