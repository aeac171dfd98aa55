//! Where a session's file lives and what it holds, in each of the two Node layouts.

use std::path::{Path, PathBuf};

use session_core::{Error, SessionId, SessionRules, StoredSession};

/// The on-disk layout: whose Node app can share the directory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileLayout {
    /// Remix 3's `createFsSessionStorage` (`@remix-run/session`): the file of an ID is
    /// `<dir>/<hex[0..2]>/<hex[2..]>`, where `hex` is the lowercase SHA-256 of the ID,
    /// and holds the JSON `[values, flash]`, plus our stamp as a third element (the
    /// deadline, creation time, login choices), which Remix ignores. Hashing means no
    /// cookie value can name a path, and a listing of the directory shows no ID.
    /// Sessions get our 256-bit IDs.
    #[default]
    Remix,
    /// React Router's `createFileSessionStorage` (`@react-router/node` 7 and 8,
    /// `@remix-run/node` 2): IDs are 16 lowercase hex digits (64 bits from the OS
    /// CSPRNG, what React Router mints and reads), the file of an ID is
    /// `<dir>/<id[0..4]>/<id[4..]>`, and it holds
    /// `{"data":{…},"expires":"…Z"}` with flash values as `__flash_<key>__` in `data`
    /// (our stamp, when there is one, as a third member, `"stamp"`). Flash values follow
    /// React Router's rule ([`FlashLifetime::UntilRead`]).
    ///
    /// 64-bit IDs are below the 128 bits OWASP asks for: choose this layout only to
    /// share the directory with a React Router app, and keep the idle timeout short.
    /// An ID that is not 16 lowercase hex digits never touches the disk.
    ///
    /// [`FlashLifetime::UntilRead`]: session_core::FlashLifetime::UntilRead
    ReactRouter,
}

impl FileLayout {
    /// The conventions of this layout's sessions.
    pub(crate) fn rules(self) -> SessionRules {
        match self {
            Self::Remix => SessionRules::REMIX,
            Self::ReactRouter => SessionRules::REACT_ROUTER_FILES,
        }
    }

    /// The file of `id` under `dir`, or `None` when this layout has no file for such an
    /// ID (then nothing is read, written or deleted). Only ever built from hex digits,
    /// so no ID can name a path outside `dir`.
    pub(crate) fn path(self, dir: &Path, id: &SessionId) -> Option<PathBuf> {
        match self {
            Self::Remix => {
                let hex = session_core::hashed_key("", id.as_str());
                Some(dir.join(&hex[..2]).join(&hex[2..]))
            }
            Self::ReactRouter => {
                let id = id.as_str();
                let valid = id.len() == 16
                    && id
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                valid.then(|| dir.join(&id[..4]).join(&id[4..]))
            }
        }
    }

    /// True for a shard directory's name in this layout (what the sweeper visits).
    pub(crate) fn is_shard(self, name: &str) -> bool {
        let len = match self {
            Self::Remix => 2,
            Self::ReactRouter => 4,
        };
        name.len() == len && name.bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// The file's text for `record`.
    pub(crate) fn encode(self, record: &StoredSession) -> Result<String, Error> {
        match self {
            Self::Remix => record.to_json(),
            Self::ReactRouter => record.to_react_router_json(None),
        }
    }

    /// The record a file holds.
    pub(crate) fn decode(self, bytes: &[u8]) -> Result<StoredSession, Error> {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            Error::CorruptRecord(
                <serde_json::Error as serde::de::Error>::custom("not UTF-8").into(),
            )
        })?;
        match self {
            Self::Remix => StoredSession::from_json(text),
            Self::ReactRouter => StoredSession::from_react_router_json(text),
        }
    }
}
