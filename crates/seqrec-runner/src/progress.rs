//! The progress bar every GRU training shows (tuples of the current epoch),
//! so `evaluate`, `train` and `reproduce` look alike.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for a GRU training; `indent` lines it up under an outer bar.
pub fn training_bar(indent: bool) -> ProgressBar {
    let bar = ProgressBar::new(0);
    style_training_bar(&bar, indent);
    bar
}

/// Gives an existing bar the training style.
pub fn style_training_bar(bar: &ProgressBar, indent: bool) {
    let template = "{msg} {bar:30} {pos}/{len} tuples ({per_sec}, {eta})";
    let template = if indent {
        format!("  {template}")
    } else {
        template.to_owned()
    };
    bar.set_style(
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
}
