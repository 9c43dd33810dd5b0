//! Report files: the formats, written whole or not at all.

use std::io::{self, Write};
use std::path::Path;

use crate::model::RunReport;

/// A report file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// `--json`
    Json,
    /// `--junit`
    Junit,
    /// `--html`
    Html,
    /// `--trace`: Chrome trace-event JSON (Perfetto, `chrome://tracing`).
    Trace,
}

impl Format {
    /// The name people know it by.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Junit => "JUnit",
            Format::Html => "HTML",
            Format::Trace => "trace",
        }
    }

    /// Writes `run` in this format to `path` (whole or not at all).
    pub fn write(self, path: &Path, run: &RunReport) -> io::Result<()> {
        match self {
            Format::Json => write_file(path, |out| crate::json::write(out, run)),
            Format::Junit => write_file(path, |out| {
                crate::junit::write(out, run, &crate::junit::FileLogs)
            }),
            Format::Html => write_file(path, |out| crate::html::write(out, run)),
            Format::Trace => write_file(path, |out| crate::trace::write(out, run)),
        }
    }
}

/// Writes a report file. A new path or a regular file is written through a temporary sibling
/// and a rename, so readers never see half a report. Anything else that exists — a FIFO, a
/// character device such as `/dev/stdout`, a symlink — is opened and written in place, never
/// replaced (as root, a rename over `/dev/stdout` would replace it for the whole system).
pub fn write_file(
    path: &Path,
    render: impl FnOnce(&mut io::BufWriter<std::fs::File>) -> io::Result<()>,
) -> io::Result<()> {
    let in_place = std::fs::symlink_metadata(path)
        .is_ok_and(|m| m.file_type().is_symlink() || !m.file_type().is_file());
    if in_place {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path)?;
        let mut out = io::BufWriter::new(file);
        render(&mut out)?;
        return out.flush();
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let mut out = io::BufWriter::new(std::fs::File::create(&tmp)?);
        render(&mut out)?;
        out.flush()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Unix seconds as an ISO 8601 UTC timestamp (`2026-11-26T09:14:25Z`).
pub fn iso8601(unix: f64) -> String {
    let secs = unix.max(0.0).floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_dates() {
        assert_eq!(iso8601(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_795_684_465.7), "2026-11-26T09:14:25Z");
        assert_eq!(iso8601(951_782_400.0), "2000-02-29T00:00:00Z");
    }

    /// Regression: `--json /dev/stdout` (or a FIFO) was replaced by a regular file through the
    /// temp-and-rename (reliability's `reports_written_to_a_fifo`).
    #[test]
    fn write_file_writes_through_symlinks_and_special_files() {
        let dir =
            std::env::temp_dir().join(format!("testrium-report-wf-sym-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("target.txt");
        std::fs::write(&target, "old").unwrap();
        let link = dir.join("link.txt");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_file(&link, |out| out.write_all(b"new")).unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "new");
        // A character device is written, not replaced.
        write_file(Path::new("/dev/null"), |out| out.write_all(b"x")).unwrap();
        assert!(!std::fs::metadata("/dev/null").unwrap().is_file());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn write_file_replaces_whole() {
        let dir = std::env::temp_dir().join(format!("testrium-report-wf-{}", std::process::id()));
        let path = dir.join("sub/report.txt");
        write_file(&path, |out| out.write_all(b"one")).unwrap();
        write_file(&path, |out| out.write_all(b"two")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
