//! `cargo xtask run|test|setup|bench|fuzz`: the README's two commands, the benchmark's and the
//! parser fuzzers'. Each first installs what a machine with only the Rust toolchain lacks
//! (libclang and a C++ compiler for RocksDB's bindings, from Debian's packages; cargo-nextest for
//! the tests; cargo-fuzz for the fuzzers), then hands over to cargo with the build cache every
//! clone on the machine shares, so RocksDB's C++ compiles once per machine.

use std::env;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask run [stowage dev's flags]   three nodes on this machine
       cargo xtask test [nextest's flags]      every test
       cargo xtask setup                       only install what is missing
       cargo xtask bench [stowage bench's flags] stowage beside etcd (installs etcd-server)
       cargo xtask fuzz [SECONDS [TARGET...]]  each parser fuzz target for SECONDS (default 60)";

/// The cargo-fuzz targets under `fuzz/`, each with its corpus in `fuzz/corpus/<target>`.
const FUZZ_TARGETS: [&str; 3] = ["register_json", "filter_expr", "volume_spec"];

/// The font the benchmark's chart is drawn with (Debian's fonts-dejavu-core).
const CHART_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

fn main() -> ExitCode {
    let mut args = env::args_os().skip(1);
    let task = args.next();
    let rest: Vec<OsString> = args.collect();
    let outcome = match task.as_ref().and_then(|t| t.to_str()) {
        Some("run") => setup(false).and_then(|()| hand_over(&["run", "--", "dev"], rest)),
        Some("test") => {
            setup(true).and_then(|()| hand_over(&["nextest", "run", "--workspace"], rest))
        }
        Some("setup") => setup(true),
        Some("bench") => setup(false)
            .and_then(|()| setup_bench())
            .and_then(|()| hand_over(&["run", "--", "bench"], rest)),
        Some("fuzz") => fuzz(rest),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Replaces this process with `cargo <args> <rest>`, so that Ctrl-C and the exit status are
/// cargo's (and, through `cargo run`, the cluster's) own.
fn hand_over(args: &[&str], rest: Vec<OsString>) -> Result<(), String> {
    let mut cmd = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(args).args(rest);
    if env::var_os("CARGO_TARGET_DIR").is_none() {
        cmd.env("CARGO_TARGET_DIR", shared_target()?);
    }
    Err(format!("cannot run cargo: {}", cmd.exec()))
}

/// The build cache every clone on this machine shares.
fn shared_target() -> Result<PathBuf, String> {
    let home = env::var_os("HOME").ok_or("HOME is not set, so set CARGO_TARGET_DIR")?;
    Ok(Path::new(&home).join(".cache/stowage/target"))
}

fn setup(for_tests: bool) -> Result<(), String> {
    let mut missing = Vec::new();
    if !has_libclang() {
        missing.push("libclang-dev");
    }
    if !answers("c++", &["--version"]) {
        missing.push("g++");
    }
    // The benchmark's chart needs a TrueType font, and a test draws one.
    if for_tests && !Path::new(CHART_FONT).exists() {
        missing.push("fonts-dejavu-core");
    }
    // deploy/tls/make-certs.sh, which the compose TLS test runs, makes its certificates with it.
    if for_tests && !answers("openssl", &["version"]) {
        missing.push("openssl");
    }
    if !missing.is_empty() {
        if answers("apt-get", &["--version"]) {
            install_packages(&missing)?;
        } else {
            // Not Debian: the names differ, and the tools may be where this cannot see them.
            eprintln!(
                "xtask: cannot find {} and there is no apt-get; if the build fails in \
                 librocksdb-sys, install libclang and a C++ compiler (or set LIBCLANG_PATH)",
                missing.join(" and ")
            );
        }
    }
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    if for_tests && !answers(&cargo, &["nextest", "--version"]) {
        eprintln!("xtask: installing cargo-nextest");
        run(Command::new(&cargo).args(["install", "cargo-nextest", "--locked"]))?;
    }
    Ok(())
}

/// Runs each fuzz target (all, or those named) for the given seconds over its committed corpus,
/// installing cargo-fuzz first if it is missing. New inputs that reach new code are added to the
/// corpus folder; a crash stops the run with the input saved under `fuzz/artifacts/`.
fn fuzz(rest: Vec<OsString>) -> Result<(), String> {
    let args: Vec<String> = rest
        .into_iter()
        .map(|a| a.into_string().map_err(|a| format!("not UTF-8: {a:?}")))
        .collect::<Result<_, _>>()?;
    let (seconds, named) = match args.split_first() {
        Some((first, named)) => (
            first
                .parse::<u64>()
                .map_err(|_| format!("SECONDS must be a whole number, not {first:?}"))?,
            named,
        ),
        None => (60, &[][..]),
    };
    if let Some(unknown) = named.iter().find(|t| !FUZZ_TARGETS.contains(&t.as_str())) {
        return Err(format!(
            "no fuzz target {unknown:?}; there are {FUZZ_TARGETS:?}"
        ));
    }
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    if !answers(&cargo, &["fuzz", "--version"]) {
        eprintln!("xtask: installing cargo-fuzz");
        run(Command::new(&cargo).args(["install", "cargo-fuzz", "--locked"]))?;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("xtask is not inside the repository")?;
    let targets: Vec<&str> = if named.is_empty() {
        FUZZ_TARGETS.to_vec()
    } else {
        named.iter().map(String::as_str).collect()
    };
    for target in targets {
        let corpus = root.join("fuzz/corpus").join(target);
        let mut cmd = Command::new(&cargo);
        // The stable toolchain has no sanitizers, so libFuzzer runs without one: a panic, an
        // abort or a stack overflow is the crash it looks for (the code is safe Rust).
        cmd.current_dir(root)
            .args(["fuzz", "run", "--sanitizer", "none", target])
            .arg(&corpus)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg("-rss_limit_mb=2048")
            .arg("-print_final_stats=1");
        if env::var_os("CARGO_TARGET_DIR").is_none() {
            cmd.env("CARGO_TARGET_DIR", shared_target()?);
        }
        eprintln!("xtask: fuzzing {target} for {seconds} s");
        run(&mut cmd)?;
    }
    Ok(())
}

/// What the benchmark needs besides the build: Debian's etcd (the system it is compared with)
/// and a TrueType font for the chart's text.
fn setup_bench() -> Result<(), String> {
    let mut missing = Vec::new();
    if env::var_os("ETCD").is_none() && !answers("etcd", &["--version"]) {
        missing.push("etcd-server");
    }
    if !Path::new(CHART_FONT).exists() {
        missing.push("fonts-dejavu-core");
    }
    if missing.is_empty() {
        return Ok(());
    }
    if !answers("apt-get", &["--version"]) {
        return Err(format!(
            "the benchmark needs {} and there is no apt-get; install them, or run \
             `cargo run -- bench --no-etcd`",
            missing.join(" and ")
        ));
    }
    install_packages(&missing)
}

/// Whether bindgen will find libclang: the file LIBCLANG_PATH names, `libclang.so` in the folder
/// it names, or in one of
/// Debian's LLVM trees (the runtime library alone, `libclang-N.so.1`, comes without the headers
/// bindgen also needs, which the -dev package brings).
fn has_libclang() -> bool {
    let mut dirs: Vec<PathBuf> = env::var_os("LIBCLANG_PATH")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    if let Ok(entries) = std::fs::read_dir("/usr/lib") {
        dirs.extend(
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("llvm-"))
                .map(|e| e.path().join("lib")),
        );
    }
    dirs.iter()
        .any(|d| d.is_file() || d.join("libclang.so").exists())
}

/// Installs Debian's `packages`, through sudo unless this is root.
fn install_packages(packages: &[&str]) -> Result<(), String> {
    eprintln!("xtask: installing {}", packages.join(" "));
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    // sudo clears the environment, so the variable goes on env's command line.
    let apt = |args: &[&str]| {
        let mut cmd = Command::new(if root { "env" } else { "sudo" });
        if !root {
            cmd.arg("env");
        }
        cmd.args(["DEBIAN_FRONTEND=noninteractive", "apt-get"])
            .args(args);
        cmd
    };
    run(&mut apt(&["update", "-qq"]))?;
    let mut install = apt(&["install", "-y", "-qq"]);
    install.args(packages);
    run(&mut install)
}

/// Whether `program args` runs and succeeds.
fn answers(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{:?} failed: {status}", cmd.get_program()))
    }
}
