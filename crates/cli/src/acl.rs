//! `rollout acl …`: bootstrap the ACL system, write policies, create tokens — Nomad's
//! `nomad acl` commands, talking HTTP to an agent run with `--acl-enabled`.

use crate::client::{Client, ClientArgs, ClientError};
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use std::io::Read;
use std::process::ExitCode;

/// The long flags that may be written Nomad-style, with one dash.
pub const NOMAD_STYLE_FLAGS: &[&str] = &[
    "address",
    "token",
    "policy",
    "name",
    "type",
    "global",
    "ttl",
    "description",
];

#[derive(Debug, Args)]
pub struct AclArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: AclCommand,
}

#[derive(Debug, Subcommand)]
enum AclCommand {
    /// Create the initial management token (once per cluster).
    Bootstrap,
    /// Policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Tokens.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Create or replace a policy from a rules file (HCL or JSON; `-` reads stdin).
    Apply {
        /// A description of the policy.
        #[arg(long, default_value = "")]
        description: String,
        /// The policy's name.
        name: String,
        /// The rules file.
        file: String,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token; its secret is shown once.
    Create {
        /// A human-friendly name.
        #[arg(long, default_value = "")]
        name: String,
        /// `client` (with policies) or `management`.
        #[arg(long = "type", default_value = "client")]
        token_type: String,
        /// A policy of the token; repeat for more.
        #[arg(long = "policy", value_name = "NAME")]
        policies: Vec<String>,
        /// Replicate to every region (accepted; rollout has one).
        #[arg(long)]
        global: bool,
        /// Expire after this long (a Go duration, e.g. `1h`).
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
    },
}

pub fn main(args: AclArgs) -> ExitCode {
    crate::client::run_and_print(|runtime| {
        let client = args
            .client
            .client()
            .map_err(|e| ("Error creating the client", e))?;
        runtime.block_on(run(&client, &args.command))
    })
}

type CommandResult = crate::client::Printed;

async fn run(client: &Client, command: &AclCommand) -> CommandResult {
    match command {
        AclCommand::Bootstrap => {
            let resp = client
                .put("/v1/acl/bootstrap", &json!({}))
                .await
                .map_err(|e| ("Error bootstrapping", e))?;
            let token = resp.json().map_err(|e| ("Error bootstrapping", e))?;
            Ok(format_token(&token))
        }
        AclCommand::Policy(PolicyCommand::Apply {
            description,
            name,
            file,
        }) => {
            let rules = read_rules(file).map_err(|e| ("Error reading policy file", e))?;
            let body = json!({"Name": name, "Description": description, "Rules": rules});
            client
                .put(&format!("/v1/acl/policy/{name}"), &body)
                .await
                .map_err(|e| ("Error writing ACL policy", e))?;
            Ok(format!("Successfully wrote {name:?} ACL policy!"))
        }
        AclCommand::Token(TokenCommand::Create {
            name,
            token_type,
            policies,
            global,
            ttl,
        }) => {
            let mut body = json!({
                "Name": name,
                "Type": token_type,
                "Policies": policies,
                "Global": global,
            });
            if let Some(ttl) = ttl {
                body["ExpirationTTL"] = json!(ttl);
            }
            let resp = client
                .put("/v1/acl/token", &body)
                .await
                .map_err(|e| ("Error creating token", e))?;
            let token = resp.json().map_err(|e| ("Error creating token", e))?;
            Ok(format_token(&token))
        }
    }
}

fn read_rules(file: &str) -> Result<String, ClientError> {
    let mut rules = String::new();
    let read = if file == "-" {
        std::io::stdin().read_to_string(&mut rules).map(|_| ())
    } else {
        std::fs::read_to_string(file).map(|r| rules = r)
    };
    read.map_err(|e| ClientError::Transport(format!("{file}: {e}")))?;
    Ok(rules)
}

/// A token as `nomad acl token create` prints it.
fn format_token(t: &Value) -> String {
    let text = |k: &str| match &t[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let list = |k: &str| match t[k].as_array() {
        Some(items) if !items.is_empty() => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
            .collect::<Vec<_>>()
            .join(", "),
        _ => "n/a".to_string(),
    };
    let expiry = match t.get("ExpirationTime") {
        Some(Value::String(s)) => s.clone(),
        _ => "<none>".to_string(),
    };
    let rows = [
        ("Accessor ID", text("AccessorID")),
        ("Secret ID", text("SecretID")),
        ("Name", text("Name")),
        ("Type", text("Type")),
        ("Global", text("Global")),
        ("Create Time", text("CreateTime")),
        ("Expiry Time", expiry),
        ("Create Index", text("CreateIndex")),
        ("Modify Index", text("ModifyIndex")),
        ("Policies", list("Policies")),
        ("Roles", list("Roles")),
    ];
    rows.iter()
        .map(|(k, v)| format!("{k:<12} = {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_print_like_nomad() {
        let out = format_token(&json!({
            "AccessorID": "a", "SecretID": "s", "Name": "Bootstrap Token", "Type": "management",
            "Global": true, "CreateTime": "2026-01-01T00:00:00Z", "CreateIndex": 3,
            "ModifyIndex": 3, "Policies": null, "Roles": null
        }));
        assert_eq!(
            out,
            "Accessor ID  = a\nSecret ID    = s\nName         = Bootstrap Token\nType         = management\nGlobal       = true\nCreate Time  = 2026-01-01T00:00:00Z\nExpiry Time  = <none>\nCreate Index = 3\nModify Index = 3\nPolicies     = n/a\nRoles        = n/a"
        );
    }
}
