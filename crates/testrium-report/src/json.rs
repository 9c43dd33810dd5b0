//! `--json FILE`: the report model as documented in docs/REPORTS.md (`"schema": 1`).

use std::io::{self, Write};

use crate::model::RunReport;

/// Writes the run as pretty-printed JSON, newline-terminated.
pub fn write(mut out: impl Write, run: &RunReport) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut out, run)?;
    out.write_all(b"\n")
}

/// Reads a run written by [`write()`] (or stored in a run directory).
pub fn read(text: &str) -> serde_json::Result<RunReport> {
    serde_json::from_str(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn round_trips() {
        let run = fixtures::run();
        let mut out = Vec::new();
        write(&mut out, &run).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("{\n  \"schema\": 1,"), "{text}");
        assert_eq!(read(&text).unwrap(), run);
    }

    /// Pins the documented shape of schema 1 (docs/REPORTS.md): a change here is a change of
    /// the JSON people parse — add fields, never rename or remove them without a new schema.
    #[test]
    fn schema_1_shape() {
        let mut run = fixtures::run();
        run.groups.truncate(2);
        insta::assert_json_snapshot!(run);
    }

    /// `kind` was added to skipped groups (issue 11 item 7): a report stored before it still
    /// reads, as `other`.
    #[test]
    fn a_skipped_group_without_kind_reads() {
        let mut run = fixtures::run();
        let mut value = serde_json::to_value(&run).unwrap();
        for skipped in value["skipped"].as_array_mut().unwrap() {
            skipped.as_object_mut().unwrap().remove("kind");
        }
        let read = read(&value.to_string()).unwrap();
        for s in &mut run.skipped {
            s.kind = crate::SkipKind::Other;
        }
        assert_eq!(read, run);
    }

    #[test]
    fn hostile_text_round_trips() {
        let run = fixtures::hostile();
        let mut out = Vec::new();
        write(&mut out, &run).unwrap();
        assert_eq!(read(std::str::from_utf8(&out).unwrap()).unwrap(), run);
    }
}
