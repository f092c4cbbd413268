//! `seqrec devices`: what each GRU backend of this build finds on this
//! machine (the adapter, the compiler cubecl feeds it, libdevice for CUDA),
//! or why it cannot run. Opening a device runs a tiny test kernel.

use anyhow::Result;
use clap::Args;
use seqrec_models::{Backend, GruError};
use serde_json::json;
use std::io::Write;

#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Only these backends (comma-separated; default: all four).
    #[arg(long, value_delimiter = ',')]
    backends: Option<Vec<String>>,
    /// Print JSON (one object).
    #[arg(long)]
    json: bool,
}

/// Every device of `backend`, or why there is none.
fn devices_of(backend: Backend) -> Result<Vec<seqrec_models::DeviceInfo>, GruError> {
    let mut found = vec![backend.open(None)?.info];
    let mut index = 1;
    while index < found[0].available {
        found.push(backend.open(Some(index))?.info);
        index += 1;
    }
    Ok(found)
}

pub fn run(args: DevicesArgs) -> Result<()> {
    let backends = match &args.backends {
        Some(names) => names
            .iter()
            .map(|n| Backend::parse(n))
            .collect::<Result<Vec<_>, _>>()?,
        None => Backend::ALL.to_vec(),
    };
    let mut report = serde_json::Map::new();
    let mut out = std::io::stdout().lock();
    for backend in backends {
        let found = devices_of(backend);
        if args.json {
            let value = match &found {
                Ok(devices) => json!({ "devices": devices }),
                Err(e) => json!({ "error": e.to_string() }),
            };
            report.insert(backend.name().to_owned(), value);
            continue;
        }
        match found {
            Ok(devices) => {
                for d in devices {
                    writeln!(out, "{}", d.summary())?;
                }
            }
            Err(e) => writeln!(out, "{backend}: unavailable: {e}")?,
        }
    }
    if args.json {
        writeln!(out, "{}", serde_json::Value::Object(report))?;
    }
    Ok(())
}
