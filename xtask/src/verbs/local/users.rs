//! The `local` stage's user pool. On AWS the template makes it (`UserPool`, `UserPoolClient`);
//! moto's CloudFormation cannot, so `local` makes the same pool by direct API, with the password
//! policy read from the template, and a site client that may also sign in by password (for the
//! local sign-in page, which stands in for Cognito's managed login). `--seed` adds a demo user.

use anyhow::{Context, Result};
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, ExplicitAuthFlowsType, PasswordPolicyType, UserPoolPolicyType, UsernameAttributeType,
};
use local_spec::UserPool;
use serde_norway::Value;

use crate::aws::{Aws, AwsContext};
use crate::stage::StageId;

pub const DEMO_EMAIL: &str = "demo@example.com";

/// The stage's pool and its site client (`StageId::user_pool_name`, `site_client_name`), found or made.
pub async fn ensure_pool(aws: &Aws, stage: &StageId, template: &str) -> Result<UserPool> {
    let cognito = Client::new(&aws.config);
    let name = stage.user_pool_name();
    let pools = cognito.list_user_pools().max_results(60).send().await.aws("listing the emulator's user pools")?;
    let found = pools.user_pools().iter().find(|p| p.name() == Some(name.as_str())).and_then(|p| p.id().map(str::to_string));
    let id = match found {
        Some(id) => id,
        None => {
            let created = cognito
                .create_user_pool()
                .pool_name(&name)
                .username_attributes(UsernameAttributeType::Email)
                .auto_verified_attributes(aws_sdk_cognitoidentityprovider::types::VerifiedAttributeType::Email)
                .policies(UserPoolPolicyType::builder().password_policy(password_policy(template)?).build())
                .send()
                .await
                .aws("creating the local user pool")?;
            created.user_pool().and_then(|p| p.id()).context("the emulator made a pool without an id")?.to_string()
        }
    };
    let client_name = stage.site_client_name();
    let clients =
        cognito.list_user_pool_clients().user_pool_id(&id).max_results(60).send().await.aws("listing the pool's clients")?;
    let found = clients.user_pool_clients().iter().find(|c| c.client_name() == Some(client_name.as_str()));
    let client_id = match found.and_then(|c| c.client_id()) {
        Some(client_id) => client_id.to_string(),
        None => {
            let created = cognito
                .create_user_pool_client()
                .user_pool_id(&id)
                .client_name(&client_name)
                .generate_secret(false)
                .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
                .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
                .send()
                .await
                .aws("creating the site's client")?;
            created.user_pool_client().and_then(|c| c.client_id()).context("a client without an id")?.to_string()
        }
    };
    Ok(UserPool { id, client_id })
}

/// `Resources.UserPool.Properties.Policies.PasswordPolicy` of the stage's template: one policy
/// for AWS and `local`.
fn password_policy(template: &str) -> Result<PasswordPolicyType> {
    let doc: Value = serde_norway::from_str(template)?;
    let policy = local_spec::at(&doc, &["Resources", "UserPool", "Properties", "Policies", "PasswordPolicy"])
        .context("the template's UserPool has no Policies.PasswordPolicy")?;
    let flag = |name: &str| policy.get(name).and_then(Value::as_bool).unwrap_or(false);
    let min = policy.get("MinimumLength").and_then(Value::as_i64).context("PasswordPolicy.MinimumLength")?;
    Ok(PasswordPolicyType::builder()
        .minimum_length(i32::try_from(min)?)
        .require_lowercase(flag("RequireLowercase"))
        .require_uppercase(flag("RequireUppercase"))
        .require_numbers(flag("RequireNumbers"))
        .require_symbols(flag("RequireSymbols"))
        .build())
}

/// The demo account, made (or given a new password) and confirmed: its e-mail, password and `sub`.
pub async fn demo_user(aws: &Aws, pool: &UserPool) -> Result<(String, String, String)> {
    let cognito = Client::new(&aws.config);
    let password = format!("Demo{}7", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let exists = cognito.admin_get_user().user_pool_id(&pool.id).username(DEMO_EMAIL).send().await.is_ok();
    if exists {
        cognito
            .admin_set_user_password()
            .user_pool_id(&pool.id)
            .username(DEMO_EMAIL)
            .password(&password)
            .permanent(true)
            .send()
            .await
            .aws("setting the demo user's password")?;
    } else {
        let email = AttributeType::builder().name("email").value(DEMO_EMAIL).build()?;
        cognito
            .sign_up()
            .client_id(&pool.client_id)
            .username(DEMO_EMAIL)
            .password(&password)
            .user_attributes(email)
            .send()
            .await
            .aws("signing the demo user up")?;
        cognito
            .admin_confirm_sign_up()
            .user_pool_id(&pool.id)
            .username(DEMO_EMAIL)
            .send()
            .await
            .aws("confirming the demo user")?;
    }
    let user = cognito.admin_get_user().user_pool_id(&pool.id).username(DEMO_EMAIL).send().await.aws("reading the demo user")?;
    let sub =
        user.user_attributes().iter().find(|a| a.name() == "sub").and_then(|a| a.value()).context("the demo user has no sub")?;
    Ok((DEMO_EMAIL.to_string(), password, sub.to_string()))
}
