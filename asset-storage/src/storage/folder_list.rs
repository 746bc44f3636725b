//! A page of a local folder's keys in key order, without reading the rest of the folder.
//!
//! object_store lists a folder in no order, so a page would mean reading every file below the
//! prefix. Here each directory's entries are visited in the order of the keys below them (a
//! directory sorts as `name/`, so `a-c` comes before `a/b`, as in S3), subtrees whose keys
//! all sort at or before `after` are skipped unread, and the walk stops once it has a page.

use std::path::Path;

use super::ListEntry;
use crate::name::{META_DIR, Visibility};

/// What [`list`] found, and how many directories it read (the cost a page has).
pub(crate) struct FolderPage {
    pub entries: Vec<ListEntry>,
    pub dirs_read: usize,
}

/// Up to `want` keys below `prefix` (a key prefix without the trailing `/`, or empty) of
/// the folder at `root`, in key order, each after `after`. Metadata records, the pending
/// area, thumbnails and object_store's half-written `<file>#<n>` are not keys.
pub(crate) fn list(
    root: &Path,
    prefix: &str,
    after: Option<&str>,
    want: usize,
) -> std::io::Result<FolderPage> {
    let mut page = FolderPage {
        entries: Vec::new(),
        dirs_read: 0,
    };
    let (dir, key_prefix) = if prefix.is_empty() {
        (root.to_path_buf(), String::new())
    } else {
        (root.join(prefix), format!("{prefix}/"))
    };
    walk(&dir, &key_prefix, after, want, &mut page)?;
    Ok(page)
}

struct Child {
    /// The key (a file) or key prefix ending in `/` (a directory) it stands for.
    key: String,
    dir: bool,
    size: u64,
    modified_ms: u64,
}

fn walk(
    dir: &Path,
    key_prefix: &str,
    after: Option<&str>,
    want: usize,
    page: &mut FolderPage,
) -> std::io::Result<()> {
    let children = match read_children(dir, key_prefix) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    page.dirs_read += 1;
    for child in children {
        if page.entries.len() >= want {
            break;
        }
        if child.dir {
            // Every key below sorts before `after` when `after` is past the prefix without
            // starting with it.
            if after.is_some_and(|a| a > child.key.as_str() && !a.starts_with(&child.key)) {
                continue;
            }
            let name = child.key[key_prefix.len()..].trim_end_matches('/');
            walk(&dir.join(name), &child.key, after, want, page)?;
        } else if after.is_none_or(|a| child.key.as_str() > a) {
            page.entries.push(ListEntry {
                visibility: Visibility::of(&child.key),
                key: child.key,
                size: child.size,
                modified_ms: child.modified_ms,
            });
        }
    }
    Ok(())
}

/// The entries of `dir` that stand for keys, sorted as their keys sort.
fn read_children(dir: &Path, key_prefix: &str) -> std::io::Result<Vec<Child>> {
    let mut children = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let Ok(name) = e.file_name().into_string() else {
            continue;
        };
        let Ok(meta) = std::fs::metadata(e.path()) else {
            continue;
        };
        if skipped(&name, key_prefix, meta.is_dir()) {
            continue;
        }
        let modified_ms = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as u64);
        children.push(Child {
            key: if meta.is_dir() {
                format!("{key_prefix}{name}/")
            } else {
                format!("{key_prefix}{name}")
            },
            dir: meta.is_dir(),
            size: meta.len(),
            modified_ms,
        });
    }
    children.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(children)
}

/// Entries that are not keys: records, the pending area, thumbnails, half-written files,
/// and names object_store could not read back as a key.
fn skipped(name: &str, key_prefix: &str, dir: bool) -> bool {
    let at_root = key_prefix.is_empty();
    if at_root && (name == META_DIR || name == super::PENDING_DIR) {
        return true;
    }
    if dir && name == "_thumb" {
        return true;
    }
    if name
        .rsplit_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        return true;
    }
    object_store::path::PathPart::parse(name).is_err()
        || object_store::path::PathPart::from(name).as_ref() != name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for f in files {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, f.as_bytes()).unwrap();
        }
        d
    }

    fn keys(p: &FolderPage) -> Vec<&str> {
        p.entries.iter().map(|e| e.key.as_str()).collect()
    }

    #[test]
    fn keys_come_in_key_order_not_name_order() {
        let d = tree(&[
            "a/b",
            "a-c",
            "a/_thumb/small.png",
            "b.png#3",
            ".meta/a-c.json",
            "pending/public/x/0f/y.png",
            "z/100%",
            "z/ok",
        ]);
        let all = list(d.path(), "", None, 100).unwrap();
        assert_eq!(keys(&all), ["a-c", "a/b", "z/ok"]);
        let after = list(d.path(), "", Some("a-c"), 100).unwrap();
        assert_eq!(keys(&after), ["a/b", "z/ok"]);
        let below = list(d.path(), "a", None, 100).unwrap();
        assert_eq!(keys(&below), ["a/b"]);
        assert!(
            list(d.path(), "nothing", None, 10)
                .unwrap()
                .entries
                .is_empty()
        );
    }

    #[test]
    fn a_page_reads_only_the_directories_it_needs() {
        let mut files = Vec::new();
        for i in 0..200 {
            files.push(format!("public/g/{i:032x}/f.png"));
        }
        let refs: Vec<&str> = files.iter().map(String::as_str).collect();
        let d = tree(&refs);
        let first = list(d.path(), "public/g", None, 3).unwrap();
        assert_eq!(keys(&first), &refs[..3]);
        // `public/g`, then one directory per key.
        assert_eq!(first.dirs_read, 4);
        let late = list(d.path(), "public/g", Some(refs[150]), 3).unwrap();
        assert_eq!(keys(&late), &refs[151..154]);
        assert_eq!(
            late.dirs_read, 5,
            "the subtree of `after` and the three after it"
        );
    }
}
