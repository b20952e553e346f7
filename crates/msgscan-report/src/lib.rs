//! The Report value and its renderers (human, JSON)
