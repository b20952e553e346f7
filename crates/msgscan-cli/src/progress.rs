//! A progress bar on stderr for scans longer than a moment.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Appears only once a scan has run for [`Bar::DELAY`], so quick scans print nothing.
#[derive(Debug)]
pub struct Bar {
    bar: ProgressBar,
    started: Instant,
    shown: AtomicBool,
}

impl Bar {
    const DELAY: Duration = Duration::from_millis(400);

    pub fn new() -> Bar {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} scanning {pos}/{len} files {wide_bar} {eta}")
        {
            bar.set_style(style);
        }
        Bar {
            bar,
            started: Instant::now(),
            shown: AtomicBool::new(false),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl msgscan::Progress for Bar {
    fn start(&self, files: usize) {
        self.bar.set_length(files as u64);
    }

    fn file_done(&self) {
        self.bar.inc(1);
        if !self.shown.load(Ordering::Relaxed)
            && self.started.elapsed() >= Self::DELAY
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
}
