//! The conventions a storage's sessions follow where the Node lines differ: the form
//! of a new ID, and how long a flash value lives.

use crate::IdForm;

/// How long a flash value lives ([`SessionRules::flash`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlashLifetime {
    /// Remix's rule (the default): a flash set now is readable during the next request
    /// only, and the save at the end of that request drops it, read or not.
    #[default]
    NextRequest,
    /// React Router's rule: a flash is readable from the moment it is set until it is
    /// first read (in this request or a later one); reading it removes it, and the next
    /// save stores the removal. An unread flash survives any number of saves.
    UntilRead,
}

/// The conventions a storage's sessions follow, where Remix and React Router differ.
///
/// A storage whose records a Node app shares states them
/// ([`SessionBackend::rules`](crate::SessionBackend::rules),
/// [`SessionStorage::rules`](crate::SessionStorage::rules)); the
/// [`Session`](crate::Session) follows them, so handlers keep one API whichever app
/// wrote the record.
///
/// ```
/// use session_core::{FlashLifetime, IdForm, SessionRules};
///
/// assert_eq!(SessionRules::default(), SessionRules::REMIX);
/// assert_eq!(SessionRules::REACT_ROUTER.flash, FlashLifetime::UntilRead);
/// assert_eq!(SessionRules::REACT_ROUTER.ids, IdForm::Native);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRules {
    /// The form new IDs are minted in.
    pub ids: IdForm,
    /// How long a flash value lives.
    pub flash: FlashLifetime,
}

impl SessionRules {
    /// Remix's conventions, and every storage's default: native IDs, flash values for
    /// the next request.
    pub const REMIX: Self = Self {
        ids: IdForm::Native,
        flash: FlashLifetime::NextRequest,
    };

    /// React Router's flash rule with native IDs: its cookie storage's layout.
    pub const REACT_ROUTER: Self = Self {
        ids: IdForm::Native,
        flash: FlashLifetime::UntilRead,
    };

    /// React Router's file storage: its 16-hex-digit IDs and its flash rule.
    pub const REACT_ROUTER_FILES: Self = Self {
        ids: IdForm::ShortHex,
        flash: FlashLifetime::UntilRead,
    };
}
