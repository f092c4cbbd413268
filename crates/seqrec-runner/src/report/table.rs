//! `table.md`: our numbers in the layout of the paper's Table 2, with the
//! paper's beside them, then significance and the paper's claims.

use super::{CellSummary, DatasetResults, Results};
use crate::record::dataset_slug;
use std::fmt::Write as _;
use std::path::Path;

fn percent(x: f64) -> String {
    if x.is_finite() {
        format!("{:+.1}%", 100.0 * x)
    } else {
        "–".to_owned()
    }
}

/// A p-value for people: four decimals, or scientific when tiny.
pub(super) fn p_value(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}

fn ours(cell: &CellSummary, key: &str) -> String {
    let value = cell.metric(key);
    match cell.std.as_ref().and_then(|s| s.get(key)) {
        Some(std) => format!("{value:.5} ± {std:.5}"),
        None => format!("{value:.5}"),
    }
}

/// The whole `table.md`.
pub fn markdown(results: &Results, out: &Path) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Results: preset `{}`\n", results.preset);
    if !results.description.is_empty() {
        let _ = writeln!(md, "{}\n", results.description.trim());
    }
    let seeds: Vec<String> = results.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(
        md,
        "Commit `{}`, GRU backend `{}`{}, seeds {} (values are means over seeds, ± the sample standard deviation where there are several), config hash `{}` (`config.toml` beside this file). Metrics are micro averages over test events with pessimistic ties (specification §3); Δ is (ours − paper) / paper. Written by `cargo xtask reproduce --preset {}`.\n",
        results.git_commit,
        results.backend,
        results
            .precision
            .as_ref()
            .map(|p| format!(" (precision `{p}`)"))
            .unwrap_or_default(),
        seeds.join(", "),
        results.config_hash,
        results.preset
    );
    let mut cell_commits: Vec<&str> = results
        .datasets
        .iter()
        .flat_map(|d| d.cells.iter().flat_map(|c| c.per_seed.iter()))
        .map(|r| r.git_commit.as_str())
        .collect();
    cell_commits.sort_unstable();
    cell_commits.dedup();
    if cell_commits != [results.git_commit.as_str()] {
        let list: Vec<String> = cell_commits.iter().map(|c| format!("`{c}`")).collect();
        let _ = writeln!(
            md,
            "The cells were computed by commit(s) {} and reused (their settings hash is unchanged); the commit above wrote the tables.\n",
            list.join(", ")
        );
    }
    summary(&mut md, results);
    for dataset in &results.datasets {
        dataset_section(&mut md, dataset, out);
    }
    if !results.skipped.is_empty() {
        let _ = writeln!(md, "## Skipped datasets\n");
        for s in &results.skipped {
            let _ = writeln!(md, "- `{}`: {}", s.dataset, s.reason);
        }
        md.push('\n');
    }
    md
}

fn summary(md: &mut String, results: &Results) {
    let _ = writeln!(md, "## MRR@20 / Recall@20 at a glance\n");
    let _ = write!(md, "| method |");
    for d in &results.datasets {
        let _ = write!(md, " {} |", d.dataset.name);
    }
    let _ = write!(md, "\n|---|");
    for _ in &results.datasets {
        md.push_str("---|");
    }
    md.push('\n');
    for method in crate::Method::ALL {
        if !results.datasets.iter().any(|d| d.cell(method).is_some()) {
            continue;
        }
        let _ = write!(md, "| {} |", method.label());
        for d in &results.datasets {
            match d.cell(method) {
                Some(c) => {
                    let _ = write!(
                        md,
                        " {:.4} / {:.4} |",
                        c.metric("mrr@20"),
                        c.metric("recall@20")
                    );
                }
                None => md.push_str(" – |"),
            }
        }
        md.push('\n');
    }
    md.push('\n');
}

fn dataset_section(md: &mut String, dataset: &DatasetResults, out: &Path) {
    let d = &dataset.dataset;
    let _ = writeln!(
        md,
        "## {} (beside the paper's {} column)\n\n{} users, {} items; {} training, {} validation, {} test events.\n",
        d.name,
        d.paper_column.label(),
        d.users,
        d.items,
        d.train_events,
        d.validation_events,
        d.test_events
    );
    let _ = writeln!(
        md,
        "| method | MRR@20 | paper | Δ | Recall@20 | paper | Δ | validation MRR@20 | fit (s) | train tuples/s |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for cell in &dataset.cells {
        let paper = |f: fn(&crate::PaperCell) -> f64| {
            cell.paper
                .as_ref()
                .map_or("–".to_owned(), |p| format!("{:.5}", f(p)))
        };
        let diff = |f: fn(&crate::PaperCell) -> f64| {
            cell.relative_difference
                .as_ref()
                .map_or("–".to_owned(), |p| percent(f(p)))
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {:.5} | {:.1} | {} |",
            cell.label,
            ours(cell, "mrr@20"),
            paper(|p| p.mrr20),
            diff(|p| p.mrr20),
            ours(cell, "recall@20"),
            paper(|p| p.recall20),
            diff(|p| p.recall20),
            cell.validation.get("mrr@20").copied().unwrap_or(f64::NAN),
            cell.fit_seconds,
            cell.train_tuples_per_second
                .map_or("–".to_owned(), |t| format!("{t:.0}")),
        );
    }
    md.push('\n');
    let slug = dataset_slug(&d.name);
    for (file, alt) in [
        ("table2", "ours against the paper"),
        ("learning-curves", "learning curves"),
    ] {
        let svg = format!("plots/{slug}-{file}.svg");
        if out.join(&svg).exists() {
            let _ = writeln!(md, "![{}: {alt}]({svg})", d.name);
        }
    }
    md.push('\n');
    if !dataset.comparisons.is_empty() {
        let _ = writeln!(
            md,
            "Significance: per-user test MRR@20 (each user's mean, seeds averaged per user), two-sided Wilcoxon signed-rank test and paired bootstrap interval of the mean difference (specification §3). A difference is called significant only when both agree: p below the level and an interval that leaves out 0.\n\n| compared | question | users | mean a | mean b | Wilcoxon p | bootstrap interval of a − b | significant |\n|---|---|---|---|---|---|---|---|"
        );
        for c in &dataset.comparisons {
            let _ = writeln!(
                md,
                "| {} vs {} | {} | {} | {:.5} | {:.5} | {} | [{:+.5}, {:+.5}] ({:.0}%) | {} |",
                c.a,
                c.b,
                c.question,
                c.users,
                c.mean_a,
                c.mean_b,
                p_value(c.wilcoxon.p_value),
                c.bootstrap.low,
                c.bootstrap.high,
                100.0 * c.bootstrap.confidence,
                if c.significant { "yes" } else { "no" }
            );
        }
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "The paper's claims (specification §6) on this dataset:\n\n| claim | holds | evidence |\n|---|---|---|"
    );
    for claim in &dataset.claims {
        let holds = match claim.holds {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "not tested",
        };
        let _ = writeln!(md, "| {} | {holds} | {} |", claim.claim, claim.evidence);
    }
    md.push('\n');
}
