//! Progress bars on a terminal, nothing otherwise: indicatif draws to stderr only when it is a
//! terminal, so piped and CI output stays clean.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use cairn_distribution::Reporter;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Shows one bar per download and one spinner per unpack.
pub(crate) struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<u64, ProgressBar>>,
}

impl Bars {
    /// Bars on stderr, hidden with `quiet`.
    pub(crate) fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Self {
            multi: MultiProgress::with_draw_target(target),
            bars: Mutex::new(HashMap::new()),
        }
    }

    fn add(&self, id: u64, bar: ProgressBar) {
        let bar = self.multi.add(bar);
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(id, bar);
        }
    }

    fn finish(&self, id: u64) {
        let bar = self.bars.lock().ok().and_then(|mut bars| bars.remove(&id));
        if let Some(bar) = bar {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }
}

impl Reporter for Bars {
    fn download_started(&self, id: u64, name: &str, total: Option<u64>) {
        let bar = match total {
            Some(total) => ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{msg:30!} {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            ),
            None => ProgressBar::new_spinner(),
        };
        self.add(id, bar.with_message(format!("Downloading {name}")));
    }

    fn download_progress(&self, id: u64, bytes: u64) {
        if let Some(bar) = self
            .bars
            .lock()
            .ok()
            .and_then(|bars| bars.get(&id).cloned())
        {
            bar.inc(bytes);
        }
    }

    fn download_finished(&self, id: u64) {
        self.finish(id);
    }

    fn unpack_started(&self, id: u64, name: &str) {
        let bar = ProgressBar::new_spinner().with_message(format!("Unpacking {name}"));
        bar.enable_steady_tick(Duration::from_millis(100));
        self.add(id, bar);
    }

    fn unpack_finished(&self, id: u64) {
        self.finish(id);
    }
}
