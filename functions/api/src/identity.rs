//! Who is asking: the `sub` claim of a verified sign-in token. On AWS, API Gateway's JWT
//! authorizer verifies it (issuer and audience from the stage's user pool); on `local`, the
//! local server does the same checks against the emulator's pool (`dev/local/runtime` `auth.rs`).
//! Nothing here trusts an id the client sends.

use crate::http::{ApiError, Request};

/// User ids become key segments (`images/<user>/…`, `avatars/<user>/…`), so they are held to
/// the upload-id alphabet. Cognito's `sub` (a UUID) always is.
pub fn valid_user(user: &str) -> bool {
    shared::key::valid_id(user)
}

pub fn user_of(request: &Request) -> Result<String, ApiError> {
    match request.subject.as_deref() {
        None => Err(ApiError::Unauthorized),
        Some(user) if valid_user(user) => Ok(user.to_string()),
        Some(_) => Err(ApiError::Forbidden("this account's user id cannot name an upload; ask an administrator".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_verified_key_safe_subject_is_a_user() {
        let mut r = Request::default();
        assert!(matches!(user_of(&r), Err(ApiError::Unauthorized)));
        r.subject = Some("0f6c-4a".into());
        assert_eq!(user_of(&r).unwrap(), "0f6c-4a");
        r.subject = Some("a/../b".into());
        assert!(matches!(user_of(&r), Err(ApiError::Forbidden(_))));
    }
}
