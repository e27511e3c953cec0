//! IDs as operators type them: a deployment or allocation by a unique prefix of its
//! UUID, a job by its ID or a unique prefix of it, as Nomad's CLI allows. A prefix that
//! matches several objects is refused with the list of candidates.
//!
//! The API takes UUID prefixes only with an even number of hex digits (a byte
//! boundary, spec §2). An odd-length prefix is asked for one digit shorter and the
//! answer filtered here, so `rollout deployment status 5c0` works.

use crate::client::{encode, ClientError};
use crate::operator::{str_of, u64_of, Context, Ctx, Failure};
use crate::output::{self, Cell, Table};
use serde_json::Value;

/// The hex digits of a UUID or prefix, lower case, without hyphens.
fn digits(id: &str) -> String {
    id.chars()
        .filter(|c| *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn is_uuid(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok()
}

/// The prefix to send (even number of hex digits) for what the user typed, or an error
/// when it cannot be part of a UUID.
fn query_prefix(what: &str, input: &str) -> Result<String, Failure> {
    if input.is_empty() || !input.chars().all(|c| c == '-' || c.is_ascii_hexdigit()) {
        return Err(Failure::msg(format!(
            "Invalid {what} ID or prefix {input:?}: use hex digits and hyphens, as in a UUID"
        )));
    }
    if digits(input).len() > 32 {
        return Err(Failure::msg(format!(
            "Invalid {what} ID or prefix {input:?}: longer than a UUID"
        )));
    }
    let mut prefix = input.to_ascii_lowercase();
    if digits(&prefix).len() % 2 == 1 {
        // Drop the last digit (and the hyphens around it); the filter below puts it back.
        while prefix.ends_with('-') {
            prefix.pop();
        }
        prefix.pop();
        while prefix.ends_with('-') {
            prefix.pop();
        }
    }
    Ok(prefix)
}

/// The deployments whose ID starts with `prefix` (any length), newest first.
pub async fn deployments_with_prefix(ctx: &Ctx, prefix: &str) -> Result<Vec<Value>, Failure> {
    with_uuid_prefix(ctx, "deployment", "/v1/deployments", prefix).await
}

/// Whether `input` may be the start of a UUID (hex digits and hyphens).
pub fn is_uuid_prefix(input: &str) -> bool {
    query_prefix("object", input).is_ok()
}

/// The objects of the list at `list_path` (`/v1/deployments`, `/v1/allocations`,
/// `/v1/evaluations`) whose ID starts with `prefix` (any length), newest first.
pub async fn with_uuid_prefix(
    ctx: &Ctx,
    what: &str,
    list_path: &str,
    prefix: &str,
) -> Result<Vec<Value>, Failure> {
    let sent = query_prefix(what, prefix)?;
    let path = if sent.is_empty() {
        list_path.to_owned()
    } else {
        format!("{list_path}?prefix={}", encode(&sent))
    };
    let list = ctx.read(&path, &format!("retrieving {what}s")).await?;
    let wanted = digits(prefix);
    let mut matches: Vec<Value> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| digits(str_of(d, "ID")).starts_with(&wanted))
        .cloned()
        .collect();
    newest_first(&mut matches);
    Ok(matches)
}

/// Sorts API objects by `CreateIndex`, newest first (as Nomad's clients do); objects
/// created together (the allocations of one plan) by name, then ID.
pub fn newest_first(list: &mut [Value]) {
    list.sort_by(|a, b| {
        u64_of(b, "CreateIndex")
            .cmp(&u64_of(a, "CreateIndex"))
            .then_with(|| str_of(a, "Name").cmp(str_of(b, "Name")))
            .then_with(|| str_of(a, "ID").cmp(str_of(b, "ID")))
    });
}

/// The deployment with ID `input`, or the only one whose ID starts with it.
pub async fn deployment(ctx: &Ctx, input: &str) -> Result<Value, Failure> {
    if is_uuid(input) {
        return ctx
            .read(&format!("/v1/deployment/{input}"), "retrieving deployment")
            .await;
    }
    let matches = deployments_with_prefix(ctx, input).await?;
    match matches.as_slice() {
        [] => Err(Failure::msg(format!(
            "No deployment with prefix or ID {input:?} found in namespace {:?}",
            ctx.namespace
        ))),
        [one] => Ok(one.clone()),
        many => {
            let mut t = Table::new(&["ID", "Job ID", "Job Version", "Status"]);
            for d in many {
                t.row(vec![
                    str_of(d, "ID").into(),
                    str_of(d, "JobID").into(),
                    output::text(&d["JobVersion"]).into(),
                    str_of(d, "Status").into(),
                ]);
            }
            Err(ambiguous("deployments", input, &t))
        }
    }
}

/// The allocation with ID `input`, or the only one whose ID starts with it, as the
/// API's full `Allocation` (`GET /v1/allocation/:id`).
pub async fn allocation(ctx: &Ctx, input: &str) -> Result<Value, Failure> {
    let header = ["ID", "Name", "Status"];
    let id = one_by_uuid(ctx, "allocation", "/v1/allocations", input, &header, |a| {
        vec![
            str_of(a, "ID").into(),
            str_of(a, "Name").into(),
            str_of(a, "ClientStatus").into(),
        ]
    })
    .await?;
    ctx.read(
        &format!("/v1/allocation/{}", encode(&id)),
        "retrieving allocation",
    )
    .await
}

/// The evaluation with ID `input`, or the only one whose ID starts with it
/// (`GET /v1/evaluation/:id`).
pub async fn evaluation(ctx: &Ctx, input: &str) -> Result<Value, Failure> {
    let header = ["ID", "Job ID", "Triggered By", "Status"];
    let id = one_by_uuid(ctx, "evaluation", "/v1/evaluations", input, &header, |e| {
        vec![
            str_of(e, "ID").into(),
            str_of(e, "JobID").into(),
            str_of(e, "TriggeredBy").into(),
            str_of(e, "Status").into(),
        ]
    })
    .await?;
    ctx.read(
        &format!("/v1/evaluation/{}", encode(&id)),
        "retrieving evaluation",
    )
    .await
}

/// The full ID of the one object of `list_path` that `input` names (a UUID is taken
/// as it is); none or several are refused, the candidates listed by `row`.
async fn one_by_uuid(
    ctx: &Ctx,
    what: &str,
    list_path: &str,
    input: &str,
    header: &[&str],
    row: impl Fn(&Value) -> Vec<Cell>,
) -> Result<String, Failure> {
    if is_uuid(input) {
        return Ok(input.to_ascii_lowercase());
    }
    let matches = with_uuid_prefix(ctx, what, list_path, input).await?;
    match matches.as_slice() {
        [] => Err(Failure::msg(format!(
            "No {what} with prefix or ID {input:?} found in namespace {:?}",
            ctx.namespace
        ))),
        [one] => Ok(str_of(one, "ID").to_owned()),
        many => {
            let mut t = Table::new(header);
            for v in many {
                t.row(row(v));
            }
            Err(ambiguous(&format!("{what}s"), input, &t))
        }
    }
}

pub fn ambiguous(what: &str, input: &str, candidates: &Table) -> Failure {
    Failure::msg(format!(
        "Prefix {input:?} matched multiple {what}; use more of the ID:\n\n{}",
        candidates.render(&Default::default())
    ))
}

/// The job with ID `input`, or the only one whose ID starts with it (in the namespace).
pub async fn job(ctx: &Ctx, input: &str) -> Result<Value, Failure> {
    if input.is_empty() {
        return Err(Failure::msg("A job ID is required"));
    }
    match ctx.client.get(&format!("/v1/job/{}", encode(input))).await {
        Ok(r) => return r.json().doing("retrieving job"),
        Err(ClientError::Status { code: 404, .. }) => {}
        Err(e) => return Err(Failure::new("retrieving job", e)),
    }
    let list = ctx
        .read(
            &format!("/v1/jobs?prefix={}", encode(input)),
            "retrieving jobs",
        )
        .await?;
    let matches: Vec<&Value> = list.as_array().into_iter().flatten().collect();
    match matches.as_slice() {
        [] => Err(Failure::msg(format!(
            "No job with prefix or ID {input:?} found in namespace {:?}",
            ctx.namespace
        ))),
        [one] => {
            ctx.read(
                &format!("/v1/job/{}", encode(str_of(one, "ID"))),
                "retrieving job",
            )
            .await
        }
        many => {
            let mut t = Table::new(&["ID", "Type", "Status"]);
            for j in many {
                t.row(vec![
                    str_of(j, "ID").into(),
                    str_of(j, "Type").into(),
                    str_of(j, "Status").into(),
                ]);
            }
            Err(ambiguous("jobs", input, &t))
        }
    }
}

/// Full allocation IDs for what the user typed: each must be a UUID or the unique
/// prefix of an allocation of deployment `deployment_id`.
pub async fn allocations_of(
    ctx: &Ctx,
    deployment_id: &str,
    inputs: &[String],
) -> Result<Vec<String>, Failure> {
    if inputs.iter().all(|i| is_uuid(i)) {
        return Ok(inputs.to_vec());
    }
    let list = ctx
        .read(
            &format!("/v1/deployment/allocations/{deployment_id}"),
            "retrieving the deployment's allocations",
        )
        .await?;
    let allocs: Vec<&Value> = list.as_array().into_iter().flatten().collect();
    inputs
        .iter()
        .map(|input| {
            if is_uuid(input) {
                return Ok(input.clone());
            }
            query_prefix("allocation", input)?;
            let wanted = digits(input);
            let matches: Vec<&&Value> = allocs
                .iter()
                .filter(|a| digits(str_of(a, "ID")).starts_with(&wanted))
                .collect();
            match matches.as_slice() {
                [] => Err(Failure::msg(format!(
                    "No allocation of deployment {:?} with prefix or ID {input:?}",
                    output::id(deployment_id, false)
                ))),
                [one] => Ok(str_of(one, "ID").to_owned()),
                many => {
                    let mut t = Table::new(&["ID", "Name", "Status"]);
                    for a in many {
                        t.row(vec![
                            str_of(a, "ID").into(),
                            str_of(a, "Name").into(),
                            str_of(a, "ClientStatus").into(),
                        ]);
                    }
                    Err(ambiguous("allocations", input, &t))
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_length_prefixes_are_sent_one_digit_shorter() {
        let q = |s: &str| query_prefix("deployment", s).map_err(|f| f.message);
        assert_eq!(q("5c0f").unwrap(), "5c0f");
        assert_eq!(q("5C0").unwrap(), "5c");
        assert_eq!(q("5").unwrap(), "");
        assert_eq!(q("5c0f0a8e-1").unwrap(), "5c0f0a8e");
        assert_eq!(q("5c0f0a8e-12").unwrap(), "5c0f0a8e-12");
        assert_eq!(q("5c0f0a8e1-").unwrap(), "5c0f0a8e");
        assert!(q("xyz").unwrap_err().unwrap().contains("hex digits"));
        assert!(q("").is_err());
        assert!(q(&"a".repeat(33)).is_err());
        assert_eq!(digits("5C0F-0a"), "5c0f0a");
    }
}
