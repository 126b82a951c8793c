//! Who is asking: the `sub` claim API Gateway's JWT authorizer verified (issuer and audience
//! come from the stage), or, in the `local` stage only, a fixed development user.

use crate::http::{ApiError, Request};

/// User ids become key segments (`avatars/<user>/…`), so they are held to the upload-id alphabet.
pub fn valid_user(user: &str) -> bool {
    shared::key::valid_id(user)
}

pub fn user_of(request: &Request, dev_user: Option<&str>) -> Result<String, ApiError> {
    match request.subject.as_deref().or(dev_user) {
        None => Err(ApiError::Unauthorized),
        Some(user) if valid_user(user) => Ok(user.to_string()),
        Some(_) => Err(ApiError::Forbidden("this account's user id cannot name an upload; ask an administrator".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verified_subject_wins_and_must_be_key_safe() {
        let mut r = Request::default();
        assert!(matches!(user_of(&r, None), Err(ApiError::Unauthorized)));
        assert_eq!(user_of(&r, Some("dev")).unwrap(), "dev");
        r.subject = Some("0f6c-4a".into());
        assert_eq!(user_of(&r, Some("dev")).unwrap(), "0f6c-4a");
        r.subject = Some("a/../b".into());
        assert!(matches!(user_of(&r, None), Err(ApiError::Forbidden(_))));
    }
}
