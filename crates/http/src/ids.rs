//! Object IDs from paths and bodies. Deployments, evaluations and allocations are keyed
//! by UUID; a malformed ID is a 400 (R1) with the text Nomad's UUID index produces.

use crate::error::ApiError;
use uuid::Uuid;

/// Parses a 36-character hyphenated UUID; `object` names the table in the error
/// (`deployment lookup failed: index error: UUID must be 36 characters`).
pub fn parse(object: &str, id: &str) -> Result<Uuid, ApiError> {
    if id.len() != 36 {
        return Err(ApiError::bad_request(format!(
            "{object} lookup failed: index error: UUID must be 36 characters"
        )));
    }
    Uuid::try_parse(id).map_err(|e| {
        ApiError::bad_request(format!(
            "{object} lookup failed: index error: Invalid UUID: {e}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_ids_are_bad_requests() {
        let e = parse("deployment", "abc").unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.message,
            "deployment lookup failed: index error: UUID must be 36 characters"
        );
        assert!(parse("eval", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz").is_err());
        assert!(parse("alloc", "5c0f0a8e-1234-4abc-9def-0123456789ab").is_ok());
    }
}
