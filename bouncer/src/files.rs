//! Files customers send, kept for staff to open: one directory per file
//! under the files directory (next to the database), named by an
//! unguessable token, holding the file under a cleaned-up name. A file
//! is written in order, bounded, into `<token>/.part` and appears under
//! its name only when complete; nothing is ever executed or interpreted.
//! Served over HTTP by `files/download.rs`; removed by age.

pub mod download;
pub mod site;
pub mod sniff;
pub mod upload;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Longest file name kept (bytes).
const MAX_NAME: usize = 100;

/// Why a file could not be kept.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    #[error("{0} bytes is over the {1}-byte limit")]
    TooLarge(u64, u64),
    #[error("a piece at offset {got} where {want} was expected")]
    OutOfOrder { got: u64, want: u64 },
    #[error("{got} bytes where {want} were announced")]
    WrongSize { got: u64, want: u64 },
    #[error("cannot write the file: {0}")]
    Io(String),
}

fn io(e: std::io::Error) -> FileError {
    FileError::Io(e.to_string())
}

/// A file name safe on disk and in a URL: letters, digits, `.`, `-`, `_`
/// (anything else becomes `_`), no leading dot, at most 100 bytes, never
/// empty.
pub fn clean_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let mut out: String = base
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' => c,
            _ => '_',
        })
        .collect();
    while out.starts_with('.') {
        out.remove(0);
    }
    if out.len() > MAX_NAME {
        // Keep the extension.
        let ext = out
            .rsplit_once('.')
            .map(|(_, e)| e.to_owned())
            .filter(|e| e.len() <= 10);
        out.truncate(MAX_NAME - ext.as_ref().map_or(0, |e| e.len() + 1));
        if let Some(e) = ext {
            out.push('.');
            out.push_str(&e);
        }
    }
    match out.is_empty() {
        true => "file".to_owned(),
        false => out,
    }
}

/// 128 random bits as 32 hex digits.
pub fn new_token() -> Result<String, FileError> {
    let mut raw = [0u8; 16];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw)
        .map_err(|_| FileError::Io("no randomness for a token".into()))?;
    Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `token` has the shape of one (so it can name a directory).
pub fn valid_token(token: &str) -> bool {
    token.len() == 32
        && token
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The files directory.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    max_bytes: u64,
}

/// A file being written.
#[derive(Debug)]
pub struct Upload {
    pub token: String,
    pub name: String,
    pub size: u64,
    written: u64,
    dir: PathBuf,
    file: fs::File,
}

/// A complete file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub token: String,
    pub name: String,
    pub size: u64,
}

impl FileStore {
    pub fn new(dir: PathBuf, max_bytes: u64) -> FileStore {
        FileStore { dir, max_bytes }
    }

    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Starts keeping a file of `size` bytes called `name`.
    pub fn begin(&self, name: &str, size: u64) -> Result<Upload, FileError> {
        if size > self.max_bytes {
            return Err(FileError::TooLarge(size, self.max_bytes));
        }
        let token = new_token()?;
        let dir = self.dir.join(&token);
        fs::create_dir_all(&dir).map_err(io)?;
        let file = fs::File::create(dir.join(".part")).map_err(io)?;
        Ok(Upload {
            token,
            name: clean_name(name),
            size,
            written: 0,
            dir,
            file,
        })
    }

    /// The complete file `name` of `token`, if it exists and is younger
    /// than `keep` (when set): its path and length.
    pub fn find(&self, token: &str, name: &str, keep: Option<Duration>) -> Option<(PathBuf, u64)> {
        if !valid_token(token) || clean_name(name) != name {
            return None;
        }
        let path = self.dir.join(token).join(name);
        let meta = fs::metadata(&path).ok().filter(fs::Metadata::is_file)?;
        let age = meta
            .modified()
            .ok()
            .and_then(|m| SystemTime::now().duration_since(m).ok());
        if keep.is_some_and(|keep| age.is_some_and(|a| a > keep)) {
            return None;
        }
        Some((path, meta.len()))
    }

    /// Removes files older than `keep` (and unfinished ones older than a
    /// day); returns how many.
    pub fn prune(&self, keep: Duration) -> usize {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(token) = name.to_str().filter(|t| valid_token(t)) else {
                continue;
            };
            let path = entry.path();
            let age = newest(&path).and_then(|m| SystemTime::now().duration_since(m).ok());
            let partial = path.join(".part").exists();
            let limit = if partial {
                keep.min(Duration::from_secs(86_400))
            } else {
                keep
            };
            if age.is_some_and(|a| a > limit) && fs::remove_dir_all(&path).is_ok() {
                tracing::info!(token, "removed an expired file");
                removed += 1;
            }
        }
        removed
    }
}

/// The newest modification time inside `dir`.
fn newest(dir: &Path) -> Option<SystemTime> {
    fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter_map(|e| e.metadata().ok()?.modified().ok())
        .max()
}

impl Upload {
    /// The next piece, at `offset` (pieces come in order, none past the
    /// announced size).
    pub fn write(&mut self, offset: u64, bytes: &[u8]) -> Result<(), FileError> {
        if offset != self.written {
            return Err(FileError::OutOfOrder {
                got: offset,
                want: self.written,
            });
        }
        let end = self.written + bytes.len() as u64;
        if end > self.size {
            return Err(FileError::WrongSize {
                got: end,
                want: self.size,
            });
        }
        self.file.write_all(bytes).map_err(io)?;
        self.written = end;
        Ok(())
    }

    /// All of it came: the file appears under its name.
    pub fn finish(self) -> Result<Kept, FileError> {
        if self.written != self.size {
            let e = FileError::WrongSize {
                got: self.written,
                want: self.size,
            };
            self.abandon();
            return Err(e);
        }
        self.file.sync_all().map_err(io)?;
        fs::rename(self.dir.join(".part"), self.dir.join(&self.name)).map_err(io)?;
        Ok(Kept {
            token: self.token,
            name: self.name,
            size: self.size,
        })
    }

    /// It will not complete: nothing of it is left behind.
    pub fn abandon(self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `84 KiB`, `1.2 MiB`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{} KiB", bytes.div_ceil(1024)),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(max: u64) -> (tempfile::TempDir, FileStore) {
        let dir = tempfile::tempdir().unwrap();
        let s = FileStore::new(dir.path().join("files"), max);
        (dir, s)
    }

    #[test]
    fn names_are_cleaned_for_disk_and_url() {
        assert_eq!(clean_name("screenshot.png"), "screenshot.png");
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(
            clean_name("C:\\Users\\bob\\My Picture (1).jpg"),
            "My_Picture__1_.jpg"
        );
        assert_eq!(clean_name(".htaccess"), "htaccess");
        assert_eq!(clean_name(""), "file");
        assert_eq!(clean_name("ü.txt"), "_.txt");
        let long = format!("{}.pdf", "a".repeat(300));
        let cleaned = clean_name(&long);
        assert!(cleaned.len() <= 100 && cleaned.ends_with(".pdf"), "{cleaned}");
    }

    #[test]
    fn a_file_appears_whole_or_not_at_all() {
        let (_d, s) = store(100);
        let mut u = s.begin("report.txt", 10).unwrap();
        u.write(0, b"hello").unwrap();
        assert_eq!(
            s.find(&u.token.clone(), "report.txt", None),
            None,
            "not before it is complete"
        );
        assert_eq!(u.write(7, b"xyz"), Err(FileError::OutOfOrder { got: 7, want: 5 }));
        assert_eq!(
            u.write(5, b"too long!!!"),
            Err(FileError::WrongSize { got: 16, want: 10 })
        );
        u.write(5, b"world").unwrap();
        let kept = u.finish().unwrap();
        let (path, len) = s.find(&kept.token, "report.txt", None).unwrap();
        assert_eq!((std::fs::read(path).unwrap(), len), (b"helloworld".to_vec(), 10));
        assert_eq!(s.find(&kept.token, "other.txt", None), None);
        assert_eq!(s.find("../x", "report.txt", None), None);
    }

    #[test]
    fn oversize_and_short_files_leave_nothing_behind() {
        let (d, s) = store(100);
        assert_eq!(
            s.begin("big.bin", 101).unwrap_err(),
            FileError::TooLarge(101, 100)
        );
        let mut u = s.begin("short.bin", 10).unwrap();
        u.write(0, b"abc").unwrap();
        assert!(matches!(
            u.finish(),
            Err(FileError::WrongSize { got: 3, want: 10 })
        ));
        let left: Vec<_> = std::fs::read_dir(d.path().join("files")).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn old_files_are_pruned_and_stop_being_found() {
        let (_d, s) = store(100);
        let mut u = s.begin("a.txt", 1).unwrap();
        u.write(0, b"a").unwrap();
        let kept = u.finish().unwrap();
        assert!(s
            .find(&kept.token, "a.txt", Some(Duration::from_secs(60)))
            .is_some());
        std::thread::sleep(Duration::from_millis(20));
        assert!(s
            .find(&kept.token, "a.txt", Some(Duration::from_millis(1)))
            .is_none());
        assert_eq!(s.prune(Duration::from_millis(1)), 1);
        assert!(s.find(&kept.token, "a.txt", None).is_none());
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(86_016), "84 KiB");
        assert_eq!(human_size(1_258_291), "1.2 MiB");
        assert!(valid_token(&new_token().unwrap()));
        assert!(!valid_token("ABCDEF0123456789abcdef0123456789"));
    }
}
