//! Progress on stderr: an indicatif bar on a terminal, plain lines otherwise.
//!
//! The result of a command goes to stdout, so progress never mixes with what scripts parse.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Reports steps and stack events as they happen.
pub struct Progress {
    bar: Option<ProgressBar>,
    hidden: bool,
}

impl Progress {
    /// Creates a bar when `bar_allowed` and stderr is a terminal, else plain lines.
    pub fn new(bar_allowed: bool) -> Self {
        if !(bar_allowed && std::io::stderr().is_terminal()) {
            return Self::plain();
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {pos}/{len} {wide_msg}")
                .expect("the progress template is valid"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Self {
            bar: Some(bar),
            hidden: false,
        }
    }

    /// Plain lines on stderr.
    pub fn plain() -> Self {
        Self {
            bar: None,
            hidden: false,
        }
    }

    /// Prints nothing, for reading events without showing them.
    pub fn hidden() -> Self {
        Self {
            bar: None,
            hidden: true,
        }
    }

    /// Announces the next step.
    pub fn step(&self, message: impl Into<String>) {
        let message = message.into();
        tracing::debug!(step = %message);
        match &self.bar {
            Some(bar) => bar.set_message(message),
            None if self.hidden => {}
            None => eprintln!("==> {message}"),
        }
    }

    /// Prints one line above the bar (or on its own when there is no bar).
    pub fn line(&self, line: impl AsRef<str>) {
        match &self.bar {
            Some(bar) => bar.println(line.as_ref()),
            None if self.hidden => {}
            None => eprintln!("    {}", line.as_ref()),
        }
    }

    /// Sets how many resource operations the bar counts to.
    pub fn set_total(&self, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(0);
            bar.set_length(total);
        }
    }

    /// Counts one finished resource operation.
    pub fn advance(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    /// Stops drawing the bar, for example while a question waits for an answer.
    pub fn hide(&self) {
        if let Some(bar) = &self.bar {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
    }

    /// Draws the bar again after [`Progress::hide`].
    pub fn show(&self) {
        if let Some(bar) = &self.bar {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// Removes the bar so the result prints on a clean line.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}
