//! The local sign-in and the token checks against tokens moto's user pools issue: sign-up,
//! confirm and sign-in give a token the checks accept; another pool's, another client's, an id
//! token, an expired or a tampered one are refused. Then the whole code flow with PKCE.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType, ExplicitAuthFlowsType};
use base64::Engine;

use crate::auth::{Refused, Verifier};
use crate::login::{Answer, Login, challenge_of};

const REGION: &str = "us-east-1";
const PASSWORD: &str = "Correct-Horse-9";

struct Pool {
    id: String,
    client: String,
    other_client: String,
}

async fn pool(cognito: &Client, name: &str) -> Pool {
    let id = cognito.create_user_pool().pool_name(name).send().await.unwrap().user_pool.unwrap().id.unwrap();
    let client = |name: &'static str| {
        let cognito = cognito.clone();
        let id = id.clone();
        async move {
            let made = cognito
                .create_user_pool_client()
                .user_pool_id(&id)
                .client_name(name)
                .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
                .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
                .send()
                .await
                .unwrap();
            made.user_pool_client.unwrap().client_id.unwrap()
        }
    };
    Pool { client: client("site").await, other_client: client("another-app").await, id }
}

async fn signed_up(cognito: &Client, pool: &Pool, client: &str, email: &str) -> (String, String) {
    let attr = AttributeType::builder().name("email").value(email).build().unwrap();
    let _ = cognito.sign_up().client_id(client).username(email).password(PASSWORD).user_attributes(attr).send().await;
    cognito.admin_confirm_sign_up().user_pool_id(&pool.id).username(email).send().await.unwrap();
    let out = cognito
        .initiate_auth()
        .client_id(client)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", email)
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap();
    let result = out.authentication_result.unwrap();
    (result.access_token.unwrap(), result.id_token.unwrap())
}

fn verifier(moto: &testkit::Moto, pool: &Pool) -> Verifier {
    let spec = local_spec::UserPool { id: pool.id.clone(), client_id: pool.client.clone() };
    Verifier::fetch(spec.issuer(REGION), spec.client_id.clone(), &spec.jwks_url(&moto.endpoint)).unwrap()
}

fn claim(token: &str, name: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    json[name].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_pools_access_tokens_for_the_site_and_in_time_pass() {
    let moto = testkit::Moto::start();
    let cognito = Client::new(&moto.sdk_config().await);
    let (ours, theirs) = (pool(&cognito, "thumbstack-local-users").await, pool(&cognito, "someone-else").await);
    let checks = verifier(&moto, &ours);
    let now = SystemTime::now();

    let (access, id_token) = signed_up(&cognito, &ours, &ours.client, "ada@example.com").await;
    let claims = checks.verify(&access, now).unwrap();
    assert_eq!(serde_json::Value::from(claims.sub.clone()), claim(&access, "sub"));
    assert!(api::identity::valid_user(&claims.sub), "Cognito's sub can name a key: {}", claims.sub);
    assert_eq!(checks.verify_header(Some(&format!("Bearer {access}")), now).unwrap().sub, claims.sub);

    assert_eq!(checks.verify_header(None, now).unwrap_err(), Refused::Missing);
    assert_eq!(checks.verify_header(Some(&access), now).unwrap_err(), Refused::Missing, "not a Bearer header");
    let (foreign, _) = signed_up(&cognito, &theirs, &theirs.client, "eve@example.com").await;
    assert!(matches!(checks.verify(&foreign, now), Err(Refused::Issuer(_))), "another pool's token");
    let (other_app, _) = signed_up(&cognito, &ours, &ours.other_client, "bob@example.com").await;
    assert!(matches!(checks.verify(&other_app, now), Err(Refused::Client(_))), "another client's token (aud)");
    assert!(matches!(checks.verify(&id_token, now), Err(Refused::TokenUse(u)) if u == "id"), "an id token");
    let exp = claim(&access, "exp").as_u64().unwrap();
    let after = UNIX_EPOCH + Duration::from_secs(exp);
    assert_eq!(checks.verify(&access, after).unwrap_err(), Refused::Expired);
    // The same signature over other claims (another user's sub) is no longer the pool's.
    let mut parts: Vec<String> = access.split('.').map(String::from).collect();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: serde_json::Value = serde_json::from_slice(&engine.decode(&parts[1]).unwrap()).unwrap();
    payload["sub"] = "someone-else".into();
    parts[1] = engine.encode(payload.to_string());
    assert!(matches!(checks.verify(&parts.join("."), now), Err(Refused::Signature(_))), "a tampered token");
    assert!(matches!(checks.verify("not.a.jwt", now), Err(Refused::Signature(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_sign_in_is_the_code_flow_with_pkce() {
    let moto = testkit::Moto::start();
    let cognito = Client::new(&moto.sdk_config().await);
    let ours = pool(&cognito, "thumbstack-local-users").await;
    let checks = verifier(&moto, &ours);
    let login = Login::new(cognito.clone(), ours.id.clone(), ours.client.clone(), 8080);
    let verifier_text = "a-verifier-of-forty-three-characters-or-more-0123";
    let pairs = |extra: &[(&str, &str)]| -> Vec<(String, String)> {
        let mut p = vec![
            ("response_type", "code"),
            ("client_id", ours.client.as_str()),
            ("redirect_uri", "http://127.0.0.1:8080/"),
            ("state", "s-1"),
            ("code_challenge_method", "S256"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect::<Vec<_>>();
        p.push(("code_challenge".into(), challenge_of(verifier_text)));
        p.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        p
    };

    assert!(matches!(login.authorize_page(&pairs(&[])), Answer::Page { status: 200, .. }));
    let implicit: Vec<_> =
        pairs(&[]).into_iter().map(|(k, v)| if k == "response_type" { (k, "token".into()) } else { (k, v) }).collect();
    assert!(matches!(login.authorize_page(&implicit), Answer::Page { status: 400, .. }), "no implicit flow");
    let elsewhere: Vec<_> = pairs(&[])
        .into_iter()
        .map(|(k, v)| if k == "redirect_uri" { (k, "https://evil.example/".into()) } else { (k, v) })
        .collect();
    assert!(matches!(login.authorize_page(&elsewhere), Answer::Page { status: 400, .. }), "codes go to the site only");

    let wrong =
        login.authorize_submit(&pairs(&[("action", "sign-in"), ("email", "new@example.com"), ("password", PASSWORD)])).await;
    assert!(matches!(&wrong, Answer::Page { status: 400, html } if html.contains("Incorrect")), "{wrong:?}");
    let signed_up =
        login.authorize_submit(&pairs(&[("action", "sign-up"), ("email", "new@example.com"), ("password", PASSWORD)])).await;
    let Answer::Redirect(to) = signed_up else { panic!("{signed_up:?}") };
    assert!(to.starts_with("http://127.0.0.1:8080/?code=") && to.ends_with("&state=s%2D1"), "{to}");
    let code = to.split("code=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let exchange = |verifier: &str, code: &str| {
        [("grant_type", "authorization_code"), ("client_id", ours.client.as_str()), ("redirect_uri", "http://127.0.0.1:8080/")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain([("code".to_string(), code.to_string()), ("code_verifier".to_string(), verifier.to_string())])
            .collect::<Vec<_>>()
    };
    let stolen = login.token(&exchange("not-the-verifier", &code)).await;
    assert!(matches!(&stolen, Answer::Json { status: 400, body } if body.contains("invalid_grant")), "{stolen:?}");
    // A code is good once, even after a failed exchange; sign in again for a fresh one.
    let again = login.token(&exchange(verifier_text, &code)).await;
    assert!(matches!(&again, Answer::Json { status: 400, .. }), "{again:?}");
    let Answer::Redirect(to) =
        login.authorize_submit(&pairs(&[("action", "sign-in"), ("email", "new@example.com"), ("password", PASSWORD)])).await
    else {
        panic!("sign-in failed")
    };
    let code = to.split("code=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let Answer::Json { status: 200, body } = login.token(&exchange(verifier_text, &code)).await else { panic!("no tokens") };
    let tokens: serde_json::Value = serde_json::from_str(&body).unwrap();
    let sub = checks.verify(tokens["access_token"].as_str().unwrap(), SystemTime::now()).unwrap().sub;
    let refresh = [
        ("grant_type", "refresh_token"),
        ("client_id", ours.client.as_str()),
        ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect::<Vec<_>>();
    let Answer::Json { status: 200, body } = login.token(&refresh).await else { panic!("no refresh") };
    let renewed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(checks.verify(renewed["access_token"].as_str().unwrap(), SystemTime::now()).unwrap().sub, sub);
    assert!(renewed["refresh_token"].is_string(), "the site keeps refreshing with it");
}
