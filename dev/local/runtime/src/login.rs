//! The local stand-in for Cognito's managed login, which moto does not have: the same three
//! endpoints the site uses on AWS (`/oauth2/authorize`, `/oauth2/token`, `/logout`), with the
//! same authorization-code flow and PKCE (S256) check, backed by the emulator's user pool
//! (`SignUp`, `AdminConfirmSignUp`, `InitiateAuth`). So the site's token handling is one code
//! path on AWS and here; only the page that takes the password is ours, and only on `local`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType, AuthenticationResultType};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

/// As Cognito: an authorization code is good once, for five minutes.
const CODE_TTL: Duration = Duration::from_secs(300);

pub struct Login {
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub pool_id: String,
    pub client_id: String,
    /// The site's own URL (`http://127.0.0.1:<port>/`, `http://localhost:<port>/`): the only callbacks.
    pub redirects: Vec<String>,
    codes: Mutex<HashMap<String, Grant>>,
}

struct Grant {
    tokens: Tokens,
    challenge: String,
    redirect_uri: String,
    until: Instant,
}

#[derive(Debug, Clone)]
struct Tokens {
    access: String,
    id: String,
    refresh: Option<String>,
    expires_in: i32,
}

/// What an endpoint answers; the server turns it into HTTP.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Page { status: u16, html: String },
    Redirect(String),
    Json { status: u16, body: String },
}

/// The authorization request's parameters, carried through the form as hidden fields.
#[derive(Debug, Clone, Default)]
struct Authorize {
    client_id: String,
    redirect_uri: String,
    state: String,
    challenge: String,
}

impl Login {
    pub fn new(cognito: aws_sdk_cognitoidentityprovider::Client, pool_id: String, client_id: String, port: u16) -> Login {
        let redirects = vec![format!("http://127.0.0.1:{port}/"), format!("http://localhost:{port}/")];
        Login { cognito, pool_id, client_id, redirects, codes: Mutex::new(HashMap::new()) }
    }

    /// `GET /oauth2/authorize?…`: the sign-in and sign-up form, once the request is one the
    /// site's client may make.
    pub fn authorize_page(&self, query: &[(String, String)]) -> Answer {
        match self.authorize_request(query) {
            Ok(request) => page(200, &request, "", ""),
            Err(why) => error_page(&why),
        }
    }

    /// `POST /oauth2/authorize`: sign in (or sign up, then sign in), then back to the site with a code.
    pub async fn authorize_submit(&self, form: &[(String, String)]) -> Answer {
        let request = match self.authorize_request(form) {
            Ok(request) => request,
            Err(why) => return error_page(&why),
        };
        let (email, password) = (param(form, "email").trim(), param(form, "password"));
        if email.is_empty() || password.is_empty() {
            return page(400, &request, email, "Enter your e-mail address and password.");
        }
        if param(form, "action") == "sign-up"
            && let Err(why) = self.sign_up(email, password).await
        {
            return page(400, &request, email, &why);
        }
        let credentials = [("USERNAME", email), ("PASSWORD", password)];
        let tokens = match self.initiate(AuthFlowType::UserPasswordAuth, &credentials, "signing in").await {
            Ok(tokens) => tokens,
            Err(why) => return page(400, &request, email, &why),
        };
        let code = uuid::Uuid::new_v4().simple().to_string();
        let grant = Grant {
            tokens,
            challenge: request.challenge.clone(),
            redirect_uri: request.redirect_uri.clone(),
            until: Instant::now() + CODE_TTL,
        };
        let mut codes = self.codes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        codes.retain(|_, g| g.until > Instant::now());
        codes.insert(code.clone(), grant);
        let query = form_urlencode(&[("code", &code), ("state", &request.state)]);
        Answer::Redirect(format!("{}?{query}", request.redirect_uri))
    }

    /// `POST /oauth2/token`: a code and its PKCE verifier for tokens, or a refresh token for new ones.
    pub async fn token(&self, form: &[(String, String)]) -> Answer {
        let field = |name: &str| param(form, name);
        if field("client_id") != self.client_id {
            return oauth_error(400, "invalid_client", "unknown client_id");
        }
        match field("grant_type") {
            "authorization_code" => {
                let grant = self.codes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(field("code"));
                let Some(grant) = grant.filter(|g| g.until > Instant::now()) else {
                    return oauth_error(400, "invalid_grant", "the code is unknown, used or expired");
                };
                if grant.redirect_uri != field("redirect_uri") {
                    return oauth_error(400, "invalid_grant", "redirect_uri differs from the authorization request's");
                }
                if challenge_of(field("code_verifier")) != grant.challenge {
                    return oauth_error(400, "invalid_grant", "code_verifier does not match the code_challenge");
                }
                token_answer(&grant.tokens)
            }
            "refresh_token" => match self.refresh(field("refresh_token")).await {
                Ok(tokens) => token_answer(&tokens),
                Err(why) => oauth_error(400, "invalid_grant", &why),
            },
            other => oauth_error(400, "unsupported_grant_type", &format!("{other:?}")),
        }
    }

    /// `GET /logout?client_id=…&logout_uri=…`: back to the site (the session is the site's tokens).
    pub fn logout(&self, query: &[(String, String)]) -> Answer {
        let get = |name: &str| param(query, name);
        if get("client_id") != self.client_id || !self.redirects.iter().any(|r| r == get("logout_uri")) {
            return error_page("logout_uri is not the site's URL, or client_id is not the site's");
        }
        Answer::Redirect(get("logout_uri").to_string())
    }

    fn authorize_request(&self, params: &[(String, String)]) -> Result<Authorize, String> {
        let get = |name: &str| param(params, name).to_string();
        if get("response_type") != "code" {
            return Err("response_type must be code (the authorization-code flow; no implicit flow)".into());
        }
        if get("client_id") != self.client_id {
            return Err("client_id is not the site's".into());
        }
        if !self.redirects.contains(&get("redirect_uri")) {
            return Err(format!("redirect_uri must be the site's URL ({})", self.redirects.join(" or ")));
        }
        if get("code_challenge_method") != "S256" || get("code_challenge").len() < 43 {
            return Err("PKCE is required: code_challenge (S256 of the verifier) and code_challenge_method=S256".into());
        }
        Ok(Authorize {
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            state: get("state"),
            challenge: get("code_challenge"),
        })
    }

    async fn sign_up(&self, email: &str, password: &str) -> Result<(), String> {
        let email_attribute = AttributeType::builder().name("email").value(email).build().map_err(|e| e.to_string())?;
        self.cognito
            .sign_up()
            .client_id(&self.client_id)
            .username(email)
            .password(password)
            .user_attributes(email_attribute)
            .send()
            .await
            .map_err(|e| said(&e, "signing up"))?;
        // moto sends no e-mail: the code Cognito would mail is confirmed here, as an admin would.
        self.cognito
            .admin_confirm_sign_up()
            .user_pool_id(&self.pool_id)
            .username(email)
            .send()
            .await
            .map_err(|e| said(&e, "confirming the account"))?;
        Ok(())
    }

    /// `InitiateAuth` with `flow` (password or refresh token): the pool's tokens, or what it said.
    async fn initiate(&self, flow: AuthFlowType, parameters: &[(&str, &str)], what: &str) -> Result<Tokens, String> {
        let mut request = self.cognito.initiate_auth().client_id(&self.client_id).auth_flow(flow);
        for (name, value) in parameters {
            request = request.auth_parameters(*name, *value);
        }
        let out = request.send().await.map_err(|e| said(&e, what))?;
        // A refresh answers with no new refresh token: the one used stays good.
        let kept = parameters.iter().find(|(name, _)| *name == "REFRESH_TOKEN").map(|(_, v)| *v);
        tokens_of(out.authentication_result(), kept)
    }

    async fn refresh(&self, refresh_token: &str) -> Result<Tokens, String> {
        if refresh_token.is_empty() {
            return Err("refresh_token is required".into());
        }
        self.initiate(AuthFlowType::RefreshTokenAuth, &[("REFRESH_TOKEN", refresh_token)], "refreshing").await
    }
}

/// A form's or query's value of `name`; empty when absent.
fn param<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

/// Cognito's own message for the user's mistakes (wrong password, taken e-mail, weak password).
fn said<E: std::error::Error + aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata>(e: &E, what: &str) -> String {
    match (e.code(), e.message()) {
        (Some("NotAuthorizedException" | "UserNotFoundException"), _) => "Incorrect e-mail address or password.".into(),
        (Some(_), Some(message)) => message.to_string(),
        _ => format!("{what} failed: {e}"),
    }
}

fn tokens_of(result: Option<&AuthenticationResultType>, kept_refresh: Option<&str>) -> Result<Tokens, String> {
    let result = result.ok_or("the pool asked for another step (MFA?), which the local page does not offer")?;
    Ok(Tokens {
        access: result.access_token().ok_or("no access token")?.to_string(),
        id: result.id_token().ok_or("no id token")?.to_string(),
        refresh: result.refresh_token().or(kept_refresh).map(str::to_string),
        expires_in: result.expires_in(),
    })
}

/// BASE64URL(SHA256(verifier)), RFC 7636's S256.
pub fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn token_answer(tokens: &Tokens) -> Answer {
    let mut body =
        json!({ "access_token": tokens.access, "id_token": tokens.id, "token_type": "Bearer", "expires_in": tokens.expires_in });
    if let Some(refresh) = &tokens.refresh {
        body["refresh_token"] = json!(refresh);
    }
    Answer::Json { status: 200, body: body.to_string() }
}

fn oauth_error(status: u16, error: &str, description: &str) -> Answer {
    Answer::Json { status, body: json!({ "error": error, "error_description": description }).to_string() }
}

fn form_urlencode(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string();
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn error_page(why: &str) -> Answer {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in request refused</title>\
         <link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"><link rel=\"stylesheet\" href=\"/style.css\"></head><body><main><h1>Sign-in request refused</h1><p>{}</p></main></body></html>",
        escape(why)
    );
    Answer::Page { status: 400, html }
}

fn page(status: u16, request: &Authorize, email: &str, message: &str) -> Answer {
    let hidden = [
        ("response_type", "code"),
        ("client_id", request.client_id.as_str()),
        ("redirect_uri", request.redirect_uri.as_str()),
        ("state", request.state.as_str()),
        ("code_challenge", request.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(k, v)| format!("<input type=\"hidden\" name=\"{k}\" value=\"{}\">", escape(v)))
    .collect::<String>();
    let message =
        if message.is_empty() { String::new() } else { format!("<p id=\"login-error\" role=\"alert\">{}</p>", escape(message)) };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Sign in · thumbstack (local)</title><link rel=\"icon\" href=\"/favicon.svg\" type=\"image/svg+xml\"><link rel=\"stylesheet\" href=\"/style.css\"></head><body><main>\
         <h1>Sign in to thumbstack</h1><p><small>The local stage's sign-in page (Cognito's managed login on AWS).</small></p>{message}\
         <form method=\"post\" action=\"/oauth2/authorize\" class=\"login\">{hidden}\
         <label for=\"email\">E-mail address</label><input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"{}\">\
         <label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <p><small>A new account needs 12 characters or more, with upper- and lower-case letters and a digit.</small></p>\
         <button type=\"submit\" name=\"action\" value=\"sign-in\" id=\"sign-in\">Sign in</button> \
         <button type=\"submit\" name=\"action\" value=\"sign-up\" id=\"sign-up\">Create the account</button>\
         </form></main></body></html>",
        escape(email)
    );
    Answer::Page { status, html }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }

    #[test]
    fn what_people_typed_is_escaped() {
        assert_eq!(escape("\"><script>x</script>"), "&quot;&gt;&lt;script&gt;x&lt;/script&gt;");
    }
}
