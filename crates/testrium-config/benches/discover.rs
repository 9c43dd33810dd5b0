//! How long discovery and validation take: `cargo bench -p testrium-config`.
//!
//! Writes a base folder of N copies of the starter group (plus one 200-unit group with a
//! 500-deep dependency chain built in code) and reports the median of several runs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use testrium_config::{DiscoverOptions, Group, Unit, discover, write_template};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    let samples = (0..runs)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed()
        })
        .collect();
    median(samples)
}

fn main() {
    let base: PathBuf =
        std::env::temp_dir().join(format!("testrium-config-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    for groups in [1usize, 100] {
        let _ = std::fs::remove_dir_all(&base);
        for i in 0..groups {
            if let Err(e) = write_template(&base.join(format!("test_group_{i:03}"))) {
                eprintln!("cannot write the bench groups: {e}");
                return;
            }
        }
        let options = DiscoverOptions::new();
        let elapsed = time(21, || {
            discover(&base, &options)
                .map(|d| d.groups.len())
                .unwrap_or(0)
        });
        println!(
            "discover + validate {groups:>3} template group(s): {:>8.3} ms ({:.1} µs per group)",
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e6 / groups as f64
        );
    }
    let _ = std::fs::remove_dir_all(&base);

    let chain = time(11, || {
        let mut builder = Group::builder("test_big", "/tmp");
        for i in 0..700u32 {
            let mut unit = Unit::passive(format!("u{i}"))
                .init(i)
                .events([format!("p{i}")]);
            if (1..500).contains(&i) {
                unit = unit.depends_on([format!("u{}", i - 1)]);
            }
            builder = builder.unit(unit);
        }
        builder.build().map(|g| g.units.len()).unwrap_or(0)
    });
    println!(
        "build + validate 700 units (500-deep chain) in code: {:>8.3} ms",
        chain.as_secs_f64() * 1e3
    );
}
