//! Writing the output tree: hashed files and variants, then `manifest.json`; files that are
//! already there with the same bytes are not rewritten (a variant keeps its name when only
//! the compression level changes, so the size alone proves nothing), and files of earlier
//! runs that the new manifest does not name are removed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use asset_manifest::FILE_NAME;

/// Writes `files` (relative path, bytes) and the manifest into `out`, keeping the files
/// `kept` names (outputs of the last run that still stand).
///
/// # Errors
/// `out` is a non-empty directory that is not an output tree (no `manifest.json`), or I/O.
pub(crate) fn tree(
    out: &Path,
    files: &[(&str, &[u8])],
    kept: &[&str],
    manifest: &[u8],
) -> Result<()> {
    if out.is_dir()
        && !out.join(FILE_NAME).is_file()
        && std::fs::read_dir(out)
            .map_err(Error::io(out))?
            .next()
            .is_some()
    {
        return Err(Error::Config(format!(
            "{}: refusing to write into a directory that is not empty and has no {FILE_NAME}",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(Error::io(out))?;
    let mut keep: HashSet<PathBuf> = HashSet::new();
    for (rel, bytes) in files {
        let path = out.join(rel);
        keep.insert(path.clone());
        let same = std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64)
            && std::fs::read(&path).is_ok_and(|old| old == *bytes);
        if same {
            continue;
        }
        atomic_write(&path, bytes)?;
    }
    keep.extend(kept.iter().map(|rel| out.join(rel)));
    keep.insert(out.join(FILE_NAME));
    prune(out, &keep)?;
    if std::fs::read(out.join(FILE_NAME)).ok().as_deref() != Some(manifest) {
        atomic_write(&out.join(FILE_NAME), manifest)?;
    }
    Ok(())
}

/// Writes through a temporary file and a rename, so no reader sees half a file.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().expect("output files have a parent directory");
    std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    let tmp = dir.join(format!(
        ".tmp.{}.{}",
        std::process::id(),
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, bytes).map_err(Error::io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io(path))
}

/// Writes `bytes` unless the file already holds them (keeps mtimes, so nothing rebuilds).
pub(crate) fn if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if std::fs::read(path).ok().as_deref() == Some(bytes) {
        return Ok(false);
    }
    atomic_write(path, bytes)?;
    Ok(true)
}

fn prune(dir: &Path, keep: &HashSet<PathBuf>) -> Result<bool> {
    let mut empty = true;
    for entry in std::fs::read_dir(dir).map_err(Error::io(dir))? {
        let entry = entry.map_err(Error::io(dir))?;
        let path = entry.path();
        if entry.file_type().map_err(Error::io(&path))?.is_dir() {
            if prune(&path, keep)? {
                std::fs::remove_dir(&path).map_err(Error::io(&path))?;
            } else {
                empty = false;
            }
        } else if keep.contains(&path) {
            empty = false;
        } else {
            std::fs::remove_file(&path).map_err(Error::io(&path))?;
        }
    }
    Ok(empty)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_file_of_the_same_size_with_other_bytes_is_rewritten() {
        let dir = std::env::temp_dir().join(format!("asset-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        super::tree(&dir, &[("a.1.css.br", b"abc")], &[], b"{}").unwrap();
        super::tree(&dir, &[("a.1.css.br", b"xyz")], &[], b"{}").unwrap();
        assert_eq!(std::fs::read(dir.join("a.1.css.br")).unwrap(), b"xyz");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
