//! `[cache]` of the root `kiln.toml`: the limits of the local cache (`.kiln/cache/`).
//!
//! ```toml
//! [cache]
//! max_size = "20GB"   # or a number of bytes; 0 or "off": no size limit
//! max_age = "30d"     # evict entries unused for this long; 0 or "off": no age limit
//! max_artifact_size = "8GB"   # largest artifact (unpacked) stored or restored
//! ```
//!
//! Only what is written is returned; the defaults (10 GiB, no age limit, 4 GiB per artifact)
//! and the `KILN_CACHE_MAX_SIZE` / `KILN_CACHE_MAX_AGE` / `KILN_CACHE_MAX_ARTIFACT_SIZE`
//! overrides are the CLI's business.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::error::ConfigError;
use crate::kiln_toml::{self, Place};
use crate::root::read_optional;
use crate::units::{parse_duration, parse_size};
use crate::{Workspace, WorkspaceError};

/// The `[cache]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CacheTable {
    max_size: Option<Spanned<toml::Value>>,
    max_age: Option<Spanned<toml::Value>>,
    max_artifact_size: Option<Spanned<toml::Value>>,
}

/// Limits of the local cache from `[cache]`: `None` when not set; `Some(0)` (`Some(ZERO)`)
/// when switched off with `0` or `"off"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheConfig {
    /// The most bytes the cache's entries may take.
    pub max_size: Option<u64>,
    /// Entries not used for longer are evicted.
    pub max_age: Option<Duration>,
    /// The most bytes one artifact may expand to: larger results are not stored, larger
    /// downloads (decompression bombs) are refused.
    pub max_artifact_size: Option<u64>,
}

impl CacheTable {
    /// Checks the values, pointing at the bad one.
    pub(crate) fn check(&self, file: &Path, text: &str) -> Result<CacheConfig, ConfigError> {
        let error = |span, msg: String, label: &str| ConfigError::new(file, text, span, msg, label);
        let max_size = match &self.max_size {
            Some(v) => Some(
                limit(v.get_ref(), parse_cache_limit_size)
                    .map_err(|msg| error(v.span(), format!("`max_size`: {msg}"), "invalid size"))?,
            ),
            None => None,
        };
        let max_age = match &self.max_age {
            Some(v) => Some(
                limit(v.get_ref(), |s| {
                    parse_cache_limit_age(s).map_err(|e| format!("{e}; days are `d`, as `30d`"))
                })
                .map_err(|msg| error(v.span(), format!("`max_age`: {msg}"), "invalid duration"))?,
            ),
            None => None,
        };
        let max_artifact_size = match &self.max_artifact_size {
            Some(v) => Some(limit(v.get_ref(), parse_size).map_err(|msg| {
                error(
                    v.span(),
                    format!("`max_artifact_size`: {msg}"),
                    "invalid size",
                )
            })?),
            None => None,
        };
        Ok(CacheConfig {
            max_size,
            max_age,
            max_artifact_size,
        })
    }
}

/// A string through `parse`, or a non-negative integer (bytes, or seconds for an age: the
/// parser gets it as text).
fn limit<T>(value: &toml::Value, parse: impl Fn(&str) -> Result<T, String>) -> Result<T, String> {
    match value {
        toml::Value::String(s) => parse(s),
        toml::Value::Integer(n) if *n >= 0 => parse(&n.to_string()),
        other => Err(format!("`{other}` is neither a string nor a number ≥ 0")),
    }
}

/// A cache size limit as `max_size` or `KILN_CACHE_MAX_SIZE` takes it: a size
/// (`"20GB"`, `"512MiB"`, bytes), or `0`/`"off"` for none (returned as 0).
pub fn parse_cache_limit_size(text: &str) -> Result<u64, String> {
    if is_off(text) {
        return Ok(0);
    }
    parse_size(text)
}

/// A cache age limit as `max_age` or `KILN_CACHE_MAX_AGE` takes it: a duration (`"30d"`,
/// `"12h"`, seconds), or `0`/`"off"` for none (returned as zero).
pub fn parse_cache_limit_age(text: &str) -> Result<Duration, String> {
    if is_off(text) {
        return Ok(Duration::ZERO);
    }
    parse_duration(text)
}

fn is_off(text: &str) -> bool {
    let t = text.trim();
    t.eq_ignore_ascii_case("off") || t.eq_ignore_ascii_case("none") || t == "0"
}

impl Workspace {
    /// The `[cache]` limits of the root `kiln.toml` (all unset without one).
    pub fn cache_config(&self) -> Result<CacheConfig, WorkspaceError> {
        let Some(text) = read_optional(&self.root.join("kiln.toml"))? else {
            return Ok(CacheConfig::default());
        };
        let file = Path::new("kiln.toml");
        let parsed = kiln_toml::parse(file, &text, Place::Root)?;
        match &parsed.cache {
            Some(table) => Ok(table.get_ref().check(file, &text)?),
            None => Ok(CacheConfig::default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<CacheConfig, String> {
        let file = Path::new("kiln.toml");
        let parsed = kiln_toml::parse(file, text, Place::Root).map_err(|e| e.to_string())?;
        let table = parsed.cache.expect("a [cache] table");
        table.get_ref().check(file, text).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_sizes_ages_and_off() {
        let c = config("[cache]\nmax_size = \"20GB\"\nmax_age = \"30d\"\n").unwrap();
        assert_eq!(c.max_size, Some(20_000_000_000));
        assert_eq!(c.max_age, Some(Duration::from_secs(30 * 86400)));
        let c = config("[cache]\nmax_size = 0\nmax_age = \"off\"\n").unwrap();
        assert_eq!((c.max_size, c.max_age), (Some(0), Some(Duration::ZERO)));
        let c = config("[cache]\nmax_size = 1048576\n").unwrap();
        assert_eq!((c.max_size, c.max_age), (Some(1 << 20), None));
        let c = config("[cache]\nmax_artifact_size = \"8GiB\"\n").unwrap();
        assert_eq!(c.max_artifact_size, Some(8 << 30));
        let e = config("[cache]\nmax_artifact_size = \"off\"\n").unwrap_err();
        assert!(e.starts_with("kiln.toml:2:21: `max_artifact_size`:"), "{e}");
    }

    #[test]
    fn bad_values_and_keys_name_their_line_and_column() {
        let e = config("[cache]\nmax_size = \"big\"\n").unwrap_err();
        assert!(e.starts_with("kiln.toml:2:12: `max_size`:"), "{e}");
        let e = config("[cache]\n\nmax_age = \"a month\"\n").unwrap_err();
        assert!(e.starts_with("kiln.toml:3:11: `max_age`:"), "{e}");
        let e = config("[cache]\nmax_age = -3\n").unwrap_err();
        assert!(e.contains("kiln.toml:2:11") && e.contains("≥ 0"), "{e}");
        let e = config("[cache]\nmaxsize = \"1GB\"\n").unwrap_err();
        assert!(
            e.starts_with("kiln.toml:2:1: unknown field `maxsize`"),
            "{e}"
        );
        let member = kiln_toml::parse(Path::new("kiln.toml"), "[cache]\n", Place::Member);
        assert_eq!(
            member.unwrap_err().to_string(),
            "kiln.toml:1:1: [cache] belongs in the root kiln.toml"
        );
    }

    #[test]
    fn env_style_values() {
        assert_eq!(parse_cache_limit_size("off"), Ok(0));
        assert_eq!(parse_cache_limit_size("0"), Ok(0));
        assert_eq!(parse_cache_limit_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_cache_limit_age("OFF"), Ok(Duration::ZERO));
        assert_eq!(
            parse_cache_limit_age("14d"),
            Ok(Duration::from_secs(14 * 86400))
        );
        assert!(parse_cache_limit_size("huge").is_err());
    }

    #[test]
    fn a_workspace_without_kiln_toml_has_no_limits() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("package.json"), r#"{"workspaces": []}"#).unwrap();
        let ws = Workspace::discover(dir.path()).unwrap();
        assert_eq!(ws.cache_config().unwrap(), CacheConfig::default());
        fs_err::write(dir.path().join("kiln.toml"), "[cache]\nmax_age = \"2w\"\n").unwrap();
        let ws = Workspace::discover(dir.path()).unwrap();
        let weeks = Some(Duration::from_secs(14 * 86400));
        assert_eq!(ws.cache_config().unwrap().max_age, weeks);
    }
}
