//! Why a command was refused: the one error type of every aggregate's `decide`.
//!
//! A refused command produces no events. The variants are what a client can do about it:
//! fix its input ([`DomainError::Invalid`], naming the field and the rule), or accept that the
//! current state does not allow it ([`DomainError::InvalidState`], [`DomainError::NotFound`],
//! [`DomainError::AlreadyExists`]). The API maps each variant to a stable error code.

/// A command refused by an aggregate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The command's input breaks a rule. `field` is a path into the command (`place.latitude`,
    /// `fatalities.best`, `sources[1].url`); `rule` says what the value must be.
    #[error("invalid {field}: {rule}")]
    Invalid { field: String, rule: String },
    /// The input is fine but the aggregate's current state does not allow the command
    /// (amending a retracted incident, a session of a concluded negotiation, ...).
    #[error("{rule}")]
    InvalidState { rule: String },
    /// The command needs an aggregate that does not exist yet.
    #[error("{what} does not exist")]
    NotFound { what: &'static str },
    /// The command creates an aggregate that exists already.
    #[error("{what} exists already")]
    AlreadyExists { what: &'static str },
}

impl DomainError {
    /// [`DomainError::Invalid`] for `field` and `rule`.
    pub fn invalid(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            rule: rule.into(),
        }
    }

    /// [`DomainError::InvalidState`] with `rule`.
    pub fn state(rule: impl Into<String>) -> Self {
        Self::InvalidState { rule: rule.into() }
    }

    /// The same error with `prefix.` put before its field (for values checked inside a larger
    /// input: `place` + `latitude` gives `place.latitude`).
    pub fn within(self, prefix: &str) -> Self {
        match self {
            Self::Invalid { field, rule } => Self::Invalid {
                field: format!("{prefix}.{field}"),
                rule,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DomainError;

    #[test]
    fn within_prefixes_only_the_field_of_invalid_input() {
        let e = DomainError::invalid("latitude", "must be between -90 and 90").within("place");
        assert_eq!(
            e.to_string(),
            "invalid place.latitude: must be between -90 and 90"
        );
        assert_eq!(
            DomainError::state("retracted").within("place"),
            DomainError::state("retracted")
        );
    }
}
