//! The failure report: one folder holding the history, the fault timeline, the summary and each
//! node's log, so that a failing seed can be studied and replayed.

use super::Summary;
use super::faults::Injected;
use super::workload::Record;
use std::io::Write;
use std::path::{Path, PathBuf};

pub struct Report<'a> {
    pub seed: u64,
    pub records: &'a [Record],
    pub faults: &'a [Injected],
}

fn write_lines<T: serde::Serialize>(path: &Path, items: &[T]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for item in items {
        serde_json::to_writer(&mut f, item)?;
        f.write_all(b"\n")?;
    }
    f.flush()
}

impl Report<'_> {
    /// Writes the report under `root` and returns its folder.
    pub fn save(
        &self,
        root: &Path,
        summary: &Summary,
        logs: &[PathBuf],
    ) -> std::io::Result<PathBuf> {
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let dir = root.join(format!("chaos-seed{}-{stamp}", self.seed));
        std::fs::create_dir_all(&dir)?;
        let mut history = self.records.to_vec();
        history.sort_by_key(|r| r.invoked);
        write_lines(&dir.join("history.jsonl"), &history)?;
        write_lines(&dir.join("faults.jsonl"), self.faults)?;
        let mut text = format!(
            "seed {}\nreplay: stowage chaos --seed {}\noperations: {:?}\nfaults: {:?}\nanomalies ({}):\n",
            self.seed,
            self.seed,
            summary.ops_by_outcome,
            summary.faults_by_kind,
            summary.anomalies.len()
        );
        for a in &summary.anomalies {
            text.push_str(&format!("- {a}\n"));
        }
        std::fs::write(dir.join("summary.txt"), text)?;
        for log in logs {
            if let Some(name) = log.file_name() {
                let _ = std::fs::copy(log, dir.join(name));
            }
        }
        Ok(dir)
    }
}
