//! `cargo run -p generator`: regenerate `generated/` from `kernels/src`.

use clap::Parser;
use generator::{Error, Stale, Workspace};
use std::path::PathBuf;
use std::process::ExitCode;

/// Expands every kernel in kernels/src into plain-intrinsics Rust per target and
/// writes generated/ (one folder per target, plus the dispatch table).
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Write nothing; exit 1 listing every stale file, with a diff, if generated/ is out of date.
    #[arg(long, conflicts_with_all = ["stdout", "kernel", "target"])]
    check: bool,
    /// Print the generated code instead of writing files.
    #[arg(long)]
    stdout: bool,
    /// Only this kernel (`pack_rhs`, `base_pack_rhs` or `pack_rhs_f32`); implies --stdout.
    #[arg(long, value_name = "NAME")]
    kernel: Option<String>,
    /// Only this target (`avx512`, `neon`, ...); implies --stdout.
    #[arg(long, value_name = "NAME")]
    target: Option<String>,
    /// Workspace root (default: the workspace that holds the current directory).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> Result<ExitCode, Error> {
    let root = match &cli.root {
        Some(root) => root.clone(),
        None => {
            let cwd = std::env::current_dir().map_err(|e| Error::Io {
                path: ".".to_string(),
                message: format!("cannot read the current directory: {e}"),
            })?;
            generator::find_root(&cwd)?
        }
    };
    let ws = Workspace::load(root)?;
    if cli.stdout || cli.kernel.is_some() || cli.target.is_some() {
        print!("{}", ws.render_filtered(cli.kernel.as_deref(), cli.target.as_deref())?);
        return Ok(ExitCode::SUCCESS);
    }
    let generated = ws.generate()?;
    if cli.check {
        let stale = ws.stale(&generated)?;
        if stale.is_empty() {
            println!("generated/ is up to date ({} files)", generated.files.len());
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("generated/ is stale; run `cargo run -p generator` and commit the result:");
        for s in &stale {
            match s {
                Stale::Missing(p) => eprintln!("  missing: {p}"),
                Stale::Changed { path, .. } => eprintln!("  changed: {path}"),
                Stale::Extra(p) => eprintln!("  no longer generated: {p}"),
            }
        }
        for s in &stale {
            if let Stale::Changed { diff, .. } = s {
                eprintln!("\n{diff}");
            }
        }
        return Ok(ExitCode::from(1));
    }
    let report = ws.write(&generated)?;
    for (path, what) in &report {
        println!("{what:>8} {path}");
    }
    println!("{} of {} generated files changed", report.len(), generated.files.len());
    Ok(ExitCode::SUCCESS)
}
