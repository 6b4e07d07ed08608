//! The one conformance suite every [`Store`] passes.
//!
//! [`run_all`] runs every check in turn on one store; each check is also public,
//! to run alone. The checks make their own accounts, applications and names
//! (random suffixes), so they do not depend on each other, but they expect a
//! freshly migrated store of their own: [`revoke_and_purge`] purges tokens that
//! expired before a time near the epoch, and no other data may expire that early.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::{AuditQuery, Journal, NewAccount, Revocation, Store, StoreError, WriteBatch};
use charter_core::audit::{AuditEvent, Outcome};
use charter_core::client::{
    Account, AccountKind, Application, ClientId, ClientSecret, ClientType, GrantType, RedirectUri, Status,
    TokenFormat,
};
use charter_core::filter::Filter;
use charter_core::keys::{SigningAlgorithm, StoredKey};
use charter_core::scope::{ScopeName, ScopeSet};
use charter_core::scope_policy::{Resource, ScopeDefinition};
use charter_core::time::UnixTime;
use charter_core::token::AccessTokenRecord;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The time the checks pretend it is.
pub const NOW: UnixTime = UnixTime(1_700_000_000);

/// Runs every check, in order.
pub async fn run_all(store: Arc<dyn Store>) {
    let s = store.as_ref();
    schema(s).await;
    accounts(s).await;
    explicit_account_ids(s).await;
    applications(s).await;
    client_record(s).await;
    secrets(s).await;
    catalogue(s).await;
    keys(s).await;
    tokens(s).await;
    token_state_follows_application_and_account(s).await;
    write_batch_is_atomic(s).await;
    large_batch(s).await;
    revoke_and_purge(s).await;
    audit(s).await;
    observations_aggregate(s).await;
    user_logins(s).await;
    refresh_tokens(s).await;
    audited_changes(s).await;
    browser_sign_in(s).await;
    journal(store.clone()).await;
}

// --- helpers -----------------------------------------------------------------------

/// 12 random lowercase hex characters.
pub fn uid() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

fn digest() -> [u8; 32] {
    let mut d = [0u8; 32];
    d[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    d[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    d
}

fn new_account(kind: AccountKind) -> NewAccount {
    let u = uid();
    NewAccount {
        id: None,
        username: format!("user-{u}"),
        kind,
        email: Some(format!("{u}@example.com")),
        full_name: Some(format!("User {u}")),
        is_staff: kind == AccountKind::User,
        is_superuser: false,
        anonymous_id: uuid::Uuid::new_v4().simple().to_string(),
        created_at: NOW,
    }
}

async fn account(store: &dyn Store) -> Account {
    store.create_account(&new_account(AccountKind::Service)).await.unwrap()
}

fn scopes(s: &str) -> ScopeSet {
    ScopeSet::parse_space_separated(s).unwrap()
}

fn application(owner: &Account) -> Application {
    let u = uid();
    Application {
        id: format!("app-id-{u}"),
        client_id: ClientId::parse(&format!("client-{u}")).unwrap(),
        name: format!("Application {u}"),
        owner_id: owner.id,
        client_type: ClientType::Confidential,
        grant_types: vec![GrantType::Password, GrantType::ClientCredentials],
        redirect_uris: vec![
            RedirectUri::parse("https://app.example.com/cb").unwrap(),
            RedirectUri::parse("http://localhost:8080/cb").unwrap(),
        ],
        allowed_scopes: scopes("grades:read user_id email"),
        filters: vec![Filter::UserMe, Filter::ContentOrg("MITx".into())],
        restricted: false,
        token_format: TokenFormat::Jwt,
        skip_authorization: false,
        status: Status::Active,
        created_at: NOW,
        updated_at: NOW,
    }
}

/// An owner and an application of theirs, stored.
async fn app(store: &dyn Store) -> (Account, Application) {
    let owner = account(store).await;
    let app = application(&owner);
    store.create_application(&app).await.unwrap();
    (owner, app)
}

fn secret(created_at: i64) -> ClientSecret {
    ClientSecret {
        id: format!("sec-{}", uid()),
        digest: digest(),
        label: Some("primary".into()),
        created_at: UnixTime(created_at),
        expires_at: None,
        revoked_at: None,
    }
}

fn token(app: &Application, account: &Account, opaque: bool) -> AccessTokenRecord {
    AccessTokenRecord {
        id: uuid::Uuid::new_v4().simple().to_string(),
        digest: opaque.then(digest),
        format: if opaque { TokenFormat::Opaque } else { TokenFormat::Jwt },
        application_id: app.id.clone(),
        client_id: app.client_id.as_str().to_owned(),
        account_id: account.id,
        scopes: scopes("read email grades:read"),
        filters: vec![Filter::ContentOrg("MITx".into()), Filter::UserMe],
        grant_type: GrantType::ClientCredentials,
        issued_at: NOW,
        expires_at: NOW.plus(3600),
        revoked_at: None,
    }
}

fn tokens_only(tokens: Vec<AccessTokenRecord>) -> WriteBatch {
    WriteBatch { tokens, ..WriteBatch::default() }
}

fn assert_conflict<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    assert!(matches!(r, Err(StoreError::Conflict(_))), "{what}: expected Conflict, got {r:?}");
}

fn assert_not_found<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &str) {
    assert!(matches!(r, Err(StoreError::NotFound(_))), "{what}: expected NotFound, got {r:?}");
}

// --- checks ------------------------------------------------------------------------

/// Migrating again is harmless; ping answers; the backend names itself.
pub async fn schema(store: &dyn Store) {
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    assert!(matches!(store.backend(), "sqlite" | "postgres"), "{}", store.backend());
    store.revisions().await.unwrap();
}

pub async fn accounts(store: &dyn Store) {
    let new = new_account(AccountKind::User);
    let a = store.create_account(&new).await.unwrap();
    assert_eq!(a.username, new.username);
    assert_eq!(a.kind, AccountKind::User);
    assert_eq!(a.email, new.email);
    assert_eq!(a.full_name, new.full_name);
    assert!(a.is_staff && !a.is_superuser);
    assert_eq!(a.status, Status::Active);
    assert_eq!(a.anonymous_id, new.anonymous_id);
    assert_eq!(a.created_at, NOW);
    assert_eq!(store.account_by_username(&new.username).await.unwrap(), Some(a.clone()));
    assert_eq!(store.account_by_id(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.account_by_username("no-such-user").await.unwrap(), None);
    assert_eq!(store.account_by_id(i64::MAX - 7).await.unwrap(), None);

    // Nullable fields stay null.
    let mut bare = new_account(AccountKind::Service);
    bare.email = None;
    bare.full_name = None;
    let b = store.create_account(&bare).await.unwrap();
    let b_read = store.account_by_id(b.id).await.unwrap().unwrap();
    assert_eq!(b_read, b);
    assert_eq!((b_read.email, b_read.full_name), (None, None));
    assert_ne!(a.id, b.id);

    // The username and the anonymous id are unique.
    let mut dup = new_account(AccountKind::User);
    dup.username = new.username.clone();
    assert_conflict(store.create_account(&dup).await, "duplicate username");
    let mut dup = new_account(AccountKind::User);
    dup.anonymous_id = new.anonymous_id.clone();
    assert_conflict(store.create_account(&dup).await, "duplicate anonymous id");

    // Listing, by kind.
    let services = store.list_accounts(Some(AccountKind::Service)).await.unwrap();
    assert!(services.iter().all(|x| x.kind == AccountKind::Service));
    assert!(services.iter().any(|x| x.id == b.id) && !services.iter().any(|x| x.id == a.id));
    let users = store.list_accounts(Some(AccountKind::User)).await.unwrap();
    assert!(users.iter().all(|x| x.kind == AccountKind::User));
    assert!(users.iter().any(|x| x.id == a.id));
    let all = store.list_accounts(None).await.unwrap();
    assert!(all.iter().any(|x| x.id == a.id) && all.iter().any(|x| x.id == b.id));
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "accounts are listed by id");

    // Status.
    store.set_account_status(&a.username, Status::Suspended, NOW.plus(5)).await.unwrap();
    assert_eq!(store.account_by_id(a.id).await.unwrap().unwrap().status, Status::Suspended);
    store.set_account_status(&a.username, Status::Active, NOW.plus(6)).await.unwrap();
    assert_eq!(store.account_by_id(a.id).await.unwrap().unwrap().status, Status::Active);
    assert_not_found(store.set_account_status("no-such-user", Status::Revoked, NOW).await, "status of a missing account");
}

/// Importers keep their ids; automatic ids never collide with them afterwards.
pub async fn explicit_account_ids(store: &dyn Store) {
    let first = account(store).await;
    let explicit = first.id + 1000;
    let mut new = new_account(AccountKind::User);
    new.id = Some(explicit);
    let e = store.create_account(&new).await.unwrap();
    assert_eq!(e.id, explicit);
    assert_eq!(store.account_by_id(explicit).await.unwrap().unwrap().username, new.username);

    let next = account(store).await;
    assert!(next.id > explicit, "automatic id {} after explicit {explicit}", next.id);

    // A free id below the current ones is fine too, and does not move numbering back.
    let mut low = new_account(AccountKind::User);
    low.id = Some(explicit - 500);
    assert_eq!(store.create_account(&low).await.unwrap().id, explicit - 500);
    let after = account(store).await;
    assert!(after.id > next.id, "automatic id {} after {}", after.id, next.id);

    // An explicit id that is taken.
    let mut taken = new_account(AccountKind::User);
    taken.id = Some(explicit);
    assert_conflict(store.create_account(&taken).await, "explicit id taken");
    // Numbering still works after the failure.
    let again = account(store).await;
    assert!(again.id > after.id);
}

pub async fn applications(store: &dyn Store) {
    let (owner, app) = app(store).await;
    let read = store.application(app.client_id.as_str()).await.unwrap().unwrap();
    assert_eq!(read, app);
    assert_eq!(read.primary_grant(), GrantType::Password, "grant order is kept");
    assert_eq!(read.filters, vec![Filter::UserMe, Filter::ContentOrg("MITx".into())], "filter order is kept");
    assert_eq!(store.application("no-such-client").await.unwrap(), None);

    // Conflicts and missing owners.
    let mut dup = application(&owner);
    dup.client_id = app.client_id.clone();
    assert_conflict(store.create_application(&dup).await, "duplicate client id");
    let mut dup = application(&owner);
    dup.id = app.id.clone();
    assert_conflict(store.create_application(&dup).await, "duplicate application id");
    let mut orphan = application(&owner);
    orphan.owner_id = i64::MAX - 11;
    assert_not_found(store.create_application(&orphan).await, "missing owner");
    assert_eq!(store.application(orphan.client_id.as_str()).await.unwrap(), None);

    // Empty lists survive the round trip.
    let mut empty = application(&owner);
    empty.grant_types = vec![GrantType::ClientCredentials];
    empty.redirect_uris = vec![];
    empty.allowed_scopes = ScopeSet::new();
    empty.filters = vec![];
    empty.created_at = NOW.plus(1);
    store.create_application(&empty).await.unwrap();
    assert_eq!(store.application(empty.client_id.as_str()).await.unwrap().unwrap(), empty);

    // Update replaces every field but id, client_id and created_at.
    let new_owner = account(store).await;
    let mut changed = app.clone();
    changed.name = "Renamed".into();
    changed.owner_id = new_owner.id;
    changed.client_type = ClientType::Public;
    changed.grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    changed.redirect_uris = vec![RedirectUri::parse("com.example.app:/oauth").unwrap()];
    changed.allowed_scopes = scopes("profile");
    changed.filters = vec![Filter::TpaProvider("saml-ubc".into())];
    changed.restricted = true;
    changed.token_format = TokenFormat::Opaque;
    changed.skip_authorization = true;
    changed.status = Status::Suspended;
    changed.updated_at = NOW.plus(100);
    let mut sent = changed.clone();
    sent.created_at = NOW.plus(999);
    store.update_application(&sent).await.unwrap();
    assert_eq!(store.application(app.client_id.as_str()).await.unwrap().unwrap(), changed);

    let mut missing = application(&owner);
    missing.client_id = ClientId::parse("no-such-client").unwrap();
    assert_not_found(store.update_application(&missing).await, "update of a missing application");
    let mut bad_owner = changed.clone();
    bad_owner.owner_id = i64::MAX - 13;
    assert_not_found(store.update_application(&bad_owner).await, "update to a missing owner");
    assert_eq!(store.application(app.client_id.as_str()).await.unwrap().unwrap(), changed);

    // Listing, by owner.
    let mine = store.list_applications(Some(owner.id)).await.unwrap();
    let ids: Vec<&str> = mine.iter().map(|a| a.client_id.as_str()).collect();
    assert_eq!(ids, vec![empty.client_id.as_str()], "the first application moved to the new owner");
    let theirs = store.list_applications(Some(new_owner.id)).await.unwrap();
    assert_eq!(theirs, vec![changed.clone()]);
    let all = store.list_applications(None).await.unwrap();
    assert!(all.contains(&changed) && all.contains(&empty));
}

pub async fn client_record(store: &dyn Store) {
    assert!(store.client_record("no-such-client").await.unwrap().is_none());

    let (owner, app) = app(store).await;
    let r = store.client_record(app.client_id.as_str()).await.unwrap().unwrap();
    assert_eq!(r.record.application, app);
    assert_eq!(r.record.owner, owner);
    assert!(r.record.secrets.is_empty());
    assert_eq!(r.revisions, store.revisions().await.unwrap());

    let s1 = secret(NOW.0);
    let mut s2 = secret(NOW.0 + 10);
    s2.expires_at = Some(NOW.plus(3600));
    s2.label = None;
    let s3 = secret(NOW.0 + 20);
    for s in [&s2, &s1, &s3] {
        store.add_secret(app.client_id.as_str(), s).await.unwrap();
    }
    store.revoke_secret(app.client_id.as_str(), &s3.id, NOW.plus(30)).await.unwrap();
    let r = store.client_record(app.client_id.as_str()).await.unwrap().unwrap();
    let mut s3_revoked = s3.clone();
    s3_revoked.revoked_at = Some(NOW.plus(30));
    assert_eq!(r.record.secrets, vec![s1, s2, s3_revoked], "all secrets, oldest first");
    assert_eq!(r.record.application, app);
    assert_eq!(r.record.owner, owner);

    // The revisions come along, current.
    let before = r.revisions;
    store
        .upsert_resource(&Resource {
            name: format!("r{}", uid()),
            service: "lms".into(),
            description: "x".into(),
            extra_actions: vec![],
        })
        .await
        .unwrap();
    let r = store.client_record(app.client_id.as_str()).await.unwrap().unwrap();
    assert_eq!(r.revisions.catalogue, before.catalogue + 1);
    assert_eq!(r.revisions.keys, before.keys);

    // Owner changes show.
    store.set_account_status(&owner.username, Status::Suspended, NOW).await.unwrap();
    let r = store.client_record(app.client_id.as_str()).await.unwrap().unwrap();
    assert_eq!(r.record.owner.status, Status::Suspended);
}

pub async fn secrets(store: &dyn Store) {
    let (_, app) = app(store).await;
    let (_, other) = self::app(store).await;
    let cid = app.client_id.as_str();

    assert_not_found(store.add_secret("no-such-client", &secret(NOW.0)).await, "secret of a missing application");
    assert!(store.list_secrets("no-such-client").await.unwrap().is_empty());
    assert!(store.list_secrets(cid).await.unwrap().is_empty());

    let s1 = secret(NOW.0);
    let s2 = secret(NOW.0 + 1);
    store.add_secret(cid, &s1).await.unwrap();
    store.add_secret(cid, &s2).await.unwrap();
    assert_eq!(store.list_secrets(cid).await.unwrap(), vec![s1.clone(), s2.clone()]);
    assert_conflict(store.add_secret(cid, &s1).await, "duplicate secret id");
    assert!(store.list_secrets(other.client_id.as_str()).await.unwrap().is_empty());

    // Revocation: the first time sticks.
    store.revoke_secret(cid, &s1.id, NOW.plus(10)).await.unwrap();
    store.revoke_secret(cid, &s1.id, NOW.plus(20)).await.unwrap();
    let listed = store.list_secrets(cid).await.unwrap();
    assert_eq!(listed[0].revoked_at, Some(NOW.plus(10)));
    assert!(!listed[0].is_live(NOW.plus(11)));
    assert!(listed[1].is_live(NOW.plus(11)));
    assert_not_found(store.revoke_secret(cid, "no-such-secret", NOW).await, "revoke a missing secret");
    assert_not_found(
        store.revoke_secret(other.client_id.as_str(), &s2.id, NOW).await,
        "revoke another application's secret",
    );
    assert_not_found(store.revoke_secret("no-such-client", &s2.id, NOW).await, "revoke for a missing application");
    assert_eq!(store.list_secrets(cid).await.unwrap()[1].revoked_at, None);

    // Expiry: set, then clear.
    store.set_secret_expiry(cid, &s2.id, Some(NOW.plus(60))).await.unwrap();
    let s = &store.list_secrets(cid).await.unwrap()[1];
    assert_eq!(s.expires_at, Some(NOW.plus(60)));
    assert!(s.is_live(NOW.plus(59)) && !s.is_live(NOW.plus(60)));
    store.set_secret_expiry(cid, &s2.id, None).await.unwrap();
    assert_eq!(store.list_secrets(cid).await.unwrap()[1].expires_at, None);
    assert_not_found(store.set_secret_expiry(cid, "no-such-secret", None).await, "expiry of a missing secret");
    assert_not_found(
        store.set_secret_expiry(other.client_id.as_str(), &s2.id, None).await,
        "expiry of another application's secret",
    );
}

pub async fn catalogue(store: &dyn Store) {
    let rev = store.revisions().await.unwrap();
    let res_name = format!("r{}", uid());
    let mut resource =
        Resource { name: res_name.clone(), service: "lms".into(), description: "Things".into(), extra_actions: vec![] };
    store.upsert_resource(&resource).await.unwrap();
    assert_eq!(store.revisions().await.unwrap().catalogue, rev.catalogue + 1);
    resource.service = "discovery".into();
    resource.extra_actions = vec!["delete".into(), "audit".into()];
    store.upsert_resource(&resource).await.unwrap();
    assert_eq!(store.revisions().await.unwrap().catalogue, rev.catalogue + 2);
    let all = store.resources().await.unwrap();
    assert_eq!(all.iter().filter(|r| r.name == res_name).collect::<Vec<_>>(), vec![&resource]);
    assert!(all.windows(2).all(|w| w[0].name < w[1].name));

    let name_a = ScopeName::parse(&format!("{res_name}:read")).unwrap();
    let name_b = ScopeName::parse(&format!("{res_name}:delete")).unwrap();
    let mut a = ScopeDefinition {
        name: name_a.clone(),
        description: "Read things".into(),
        translations: BTreeMap::from([("es".into(), "Leer cosas".into()), ("fr".into(), "Lire des choses".into())]),
        is_default: false,
    };
    let b = ScopeDefinition {
        name: name_b.clone(),
        description: "Delete things".into(),
        translations: BTreeMap::new(),
        is_default: true,
    };
    store.upsert_scope(&a).await.unwrap();
    store.upsert_scope(&b).await.unwrap();
    assert_eq!(store.revisions().await.unwrap().catalogue, rev.catalogue + 4);
    let listed = store.scopes().await.unwrap();
    assert!(listed.windows(2).all(|w| w[0].name < w[1].name), "scopes are ordered by name");
    let mine: Vec<&ScopeDefinition> = listed.iter().filter(|s| s.name == name_a || s.name == name_b).collect();
    assert_eq!(mine, vec![&b, &a]);

    // An upsert replaces the translations.
    a.translations = BTreeMap::from([("ar".into(), "اقرأ الأشياء".into()), ("es".into(), "Leer".into())]);
    a.is_default = true;
    a.description = "Read".into();
    store.upsert_scope(&a).await.unwrap();
    let listed = store.scopes().await.unwrap();
    assert_eq!(listed.iter().find(|s| s.name == name_a), Some(&a));

    // Delete; the translations go with the scope.
    store.delete_scope(name_a.as_str()).await.unwrap();
    let after = store.revisions().await.unwrap();
    assert_eq!(after.catalogue, rev.catalogue + 6);
    assert_eq!(after.keys, rev.keys, "catalogue changes leave the keys revision alone");
    assert!(!store.scopes().await.unwrap().iter().any(|s| s.name == name_a));
    assert_not_found(store.delete_scope(name_a.as_str()).await, "delete a missing scope");
    assert_eq!(store.revisions().await.unwrap(), after, "a failed delete bumps nothing");
    // Re-creating it starts with only the new translations.
    a.translations = BTreeMap::new();
    store.upsert_scope(&a).await.unwrap();
    assert_eq!(store.scopes().await.unwrap().iter().find(|s| s.name == name_a), Some(&a));
}

pub async fn keys(store: &dyn Store) {
    let rev = store.revisions().await.unwrap();
    let key = StoredKey {
        kid: format!("kid-{}", uid()),
        alg: SigningAlgorithm::EdDSA,
        sealed_private: vec![0, 1, 2, 255, 254],
        public_jwk: r#"{"kty":"OKP","crv":"Ed25519","x":"abc"}"#.into(),
        created_at: NOW,
        activates_at: NOW.plus(60),
        retired_at: None,
    };
    store.insert_key(&key).await.unwrap();
    let r1 = store.revisions().await.unwrap();
    assert_eq!(r1.keys, rev.keys + 1);
    assert_eq!(r1.catalogue, rev.catalogue);
    assert!(store.keys().await.unwrap().contains(&key));

    assert_conflict(store.insert_key(&key).await, "duplicate kid");
    assert_eq!(store.revisions().await.unwrap(), r1, "a failed insert bumps nothing");

    let mut second = key.clone();
    second.kid = format!("kid-{}", uid());
    second.alg = SigningAlgorithm::RS256;
    second.created_at = NOW.plus(1);
    store.insert_key(&second).await.unwrap();
    let listed = store.keys().await.unwrap();
    let pos = |k: &StoredKey| listed.iter().position(|x| x == k).unwrap();
    assert!(pos(&key) < pos(&second), "keys are listed oldest first");

    store.retire_key(&key.kid, NOW.plus(100)).await.unwrap();
    let r2 = store.revisions().await.unwrap();
    assert_eq!(r2.keys, r1.keys + 2);
    let retired = store.keys().await.unwrap().into_iter().find(|k| k.kid == key.kid).unwrap();
    assert_eq!(retired.retired_at, Some(NOW.plus(100)));
    assert_not_found(store.retire_key("no-such-kid", NOW).await, "retire a missing key");
    assert_eq!(store.revisions().await.unwrap(), r2);
}

pub async fn tokens(store: &dyn Store) {
    let (owner, mut app) = app(store).await;
    app.restricted = true;
    store.update_application(&app).await.unwrap();
    let user = store.create_account(&new_account(AccountKind::User)).await.unwrap();

    let opaque = token(&app, &user, true);
    let jwt1 = token(&app, &owner, false);
    let mut jwt2 = token(&app, &owner, false);
    jwt2.scopes = ScopeSet::new();
    jwt2.filters = vec![];
    jwt2.grant_type = GrantType::Password;
    let batch = WriteBatch {
        tokens: vec![opaque.clone(), jwt1.clone(), jwt2.clone()],
        revocations: vec![],
        audit: vec![AuditEvent::new(NOW, "system", "test.tokens", Outcome::Success)],
        observations: vec![],
        refresh_tokens: vec![],
    };
    store.write_batch(&batch).await.unwrap();

    let s = store.token_by_id(&opaque.id).await.unwrap().unwrap();
    assert_eq!(s.record, opaque);
    assert_eq!(s.application_status, Status::Active);
    assert!(s.restricted);
    assert_eq!(s.account_status, Status::Active);
    assert_eq!(s.username, user.username);
    assert_eq!(s.subject, user.anonymous_id);
    let by_id = store.token_by_id(&opaque.id).await.unwrap().unwrap();
    assert_eq!(by_id.record, opaque);

    // Several tokens without a digest (JWTs) coexist.
    let s = store.token_by_id(&jwt1.id).await.unwrap().unwrap();
    assert_eq!(s.record, jwt1);
    assert_eq!(s.username, owner.username);
    assert_eq!(s.subject, owner.anonymous_id);
    assert_eq!(store.token_by_id(&jwt2.id).await.unwrap().unwrap().record, jwt2);

    assert!(store.token_by_id("no-such-token").await.unwrap().is_none());

    // An empty batch is fine.
    store.write_batch(&WriteBatch::default()).await.unwrap();

    // Revocation in a batch: the first time sticks; unknown ids are ignored.
    let revoke = |id: &str, at: i64| Revocation { token_id: id.to_owned(), at: UnixTime(at) };
    let batch = WriteBatch {
        revocations: vec![revoke(&opaque.id, NOW.0 + 5), revoke("no-such-token", NOW.0 + 5)],
        ..WriteBatch::default()
    };
    store.write_batch(&batch).await.unwrap();
    let batch = WriteBatch { revocations: vec![revoke(&opaque.id, NOW.0 + 9)], ..WriteBatch::default() };
    store.write_batch(&batch).await.unwrap();
    let s = store.token_by_id(&opaque.id).await.unwrap().unwrap();
    assert_eq!(s.record.revoked_at, Some(NOW.plus(5)));
    assert_eq!(store.token_by_id(&jwt1.id).await.unwrap().unwrap().record.revoked_at, None);

    // A token issued and revoked in the same batch ends up revoked.
    let t = token(&app, &owner, true);
    let batch = WriteBatch { tokens: vec![t.clone()], revocations: vec![revoke(&t.id, NOW.0 + 1)], audit: vec![], observations: vec![], refresh_tokens: vec![] };
    store.write_batch(&batch).await.unwrap();
    assert_eq!(store.token_by_id(&t.id).await.unwrap().unwrap().record.revoked_at, Some(NOW.plus(1)));
}

pub async fn token_state_follows_application_and_account(store: &dyn Store) {
    let (owner, app) = app(store).await;
    let t = token(&app, &owner, true);
    store.write_batch(&tokens_only(vec![t.clone()])).await.unwrap();

    let mut suspended = app.clone();
    suspended.status = Status::Suspended;
    store.update_application(&suspended).await.unwrap();
    let s = store.token_by_id(&t.id).await.unwrap().unwrap();
    assert_eq!(s.application_status, Status::Suspended);
    assert_eq!(s.account_status, Status::Active);
    assert!(!s.restricted);

    store.set_account_status(&owner.username, Status::Revoked, NOW).await.unwrap();
    let s = store.token_by_id(&t.id).await.unwrap().unwrap();
    assert_eq!(s.account_status, Status::Revoked);

    store.update_application(&app).await.unwrap();
    store.set_account_status(&owner.username, Status::Active, NOW).await.unwrap();
    let s = store.token_by_id(&t.id).await.unwrap().unwrap();
    assert_eq!((s.application_status, s.account_status), (Status::Active, Status::Active));
}

/// A batch that fails leaves nothing behind.
pub async fn write_batch_is_atomic(store: &dyn Store) {
    let (owner, app) = app(store).await;
    let existing = token(&app, &owner, true);
    store.write_batch(&tokens_only(vec![existing.clone()])).await.unwrap();
    let action = format!("atomic{}.issued", uid());
    let event = AuditEvent::new(NOW, "system", action.clone(), Outcome::Success);
    let audited = || {
        let q = AuditQuery { action_prefix: Some(action.clone()), ..AuditQuery::default() };
        async move { store.audit_events(&q).await.unwrap().len() }
    };

    // The second token reuses an existing id.
    let fresh = token(&app, &owner, true);
    let mut dup = token(&app, &owner, true);
    dup.id = existing.id.clone();
    let other = token(&app, &owner, false);
    let batch = WriteBatch {
        tokens: vec![fresh.clone(), dup, other.clone()],
        revocations: vec![Revocation { token_id: existing.id.clone(), at: NOW }],
        audit: vec![event.clone()],
        observations: vec![observation("app-x", "/atomic", NOW, 1)],
        refresh_tokens: vec![],
    };
    assert_conflict(store.write_batch(&batch).await, "batch with a duplicate token id");
    assert!(store.token_by_id(&fresh.id).await.unwrap().is_none());
    assert!(store.token_by_id(&other.id).await.unwrap().is_none());
    assert_eq!(store.token_by_id(&existing.id).await.unwrap().unwrap().record, existing, "revocation rolled back");
    assert_eq!(audited().await, 0);

    // A token of an application that does not exist.
    let mut orphan = token(&app, &owner, false);
    orphan.application_id = "no-such-application".into();
    let batch = WriteBatch { tokens: vec![fresh.clone(), orphan], revocations: vec![], audit: vec![event.clone()], observations: vec![], refresh_tokens: vec![] };
    assert!(store.write_batch(&batch).await.is_err());
    assert!(store.token_by_id(&fresh.id).await.unwrap().is_none());
    assert_eq!(audited().await, 0);

    // And the same writes, without the bad one, go through.
    let batch = WriteBatch { tokens: vec![fresh.clone()], revocations: vec![], audit: vec![event], observations: vec![], refresh_tokens: vec![] };
    store.write_batch(&batch).await.unwrap();
    assert!(store.token_by_id(&fresh.id).await.unwrap().is_some());
    assert_eq!(audited().await, 1);
}

/// Hundreds of rows in one batch, in order.
pub async fn large_batch(store: &dyn Store) {
    let (owner, app) = app(store).await;
    let client = format!("bulk-{}", uid());
    let n = 300;
    let tokens: Vec<AccessTokenRecord> = (0..n).map(|i| token(&app, &owner, i % 3 != 0)).collect();
    let audit: Vec<AuditEvent> = (0..n)
        .map(|i| {
            AuditEvent::new(NOW, "system", "token.issued", Outcome::Success)
                .client(client.clone())
                .detail(serde_json::json!({ "i": i }))
        })
        .collect();
    let revocations =
        tokens.iter().step_by(7).map(|t| Revocation { token_id: t.id.clone(), at: NOW.plus(1) }).collect();
    store.write_batch(&WriteBatch { tokens: tokens.clone(), revocations, audit, observations: vec![], refresh_tokens: vec![] }).await.unwrap();

    for (i, t) in tokens.iter().enumerate() {
        let s = store.token_by_id(&t.id).await.unwrap().unwrap();
        let mut expected = t.clone();
        if i % 7 == 0 {
            expected.revoked_at = Some(NOW.plus(1));
        }
        assert_eq!(s.record, expected);
    }
    let events = store.audit_events(&AuditQuery { client_id: Some(client), ..AuditQuery::default() }).await.unwrap();
    assert_eq!(events.len(), n);
    // Same time: newest (last written) first.
    let order: Vec<i64> = events.iter().map(|e| e.event.detail["i"].as_i64().unwrap()).collect();
    assert_eq!(order, (0..n as i64).rev().collect::<Vec<_>>());
    assert!(events.windows(2).all(|w| w[0].seq > w[1].seq));
}

pub async fn revoke_and_purge(store: &dyn Store) {
    let (owner, app) = app(store).await;
    let (_, other) = self::app(store).await;
    let ts: Vec<AccessTokenRecord> = (0..3).map(|i| token(&app, &owner, i == 0)).collect();
    let theirs = token(&other, &owner, true);
    let mut batch = tokens_only(ts.clone());
    batch.tokens.push(theirs.clone());
    batch.revocations.push(Revocation { token_id: ts[2].id.clone(), at: NOW.plus(1) });
    store.write_batch(&batch).await.unwrap();

    assert_eq!(store.revoke_application_tokens(app.client_id.as_str(), NOW.plus(50)).await.unwrap(), 2);
    assert_eq!(store.revoke_application_tokens(app.client_id.as_str(), NOW.plus(60)).await.unwrap(), 0);
    assert_eq!(store.revoke_application_tokens("no-such-client", NOW).await.unwrap(), 0);
    let revoked_at = |id: String| async move { store.token_by_id(&id).await.unwrap().unwrap().record.revoked_at };
    assert_eq!(revoked_at(ts[0].id.clone()).await, Some(NOW.plus(50)));
    assert_eq!(revoked_at(ts[1].id.clone()).await, Some(NOW.plus(50)));
    assert_eq!(revoked_at(ts[2].id.clone()).await, Some(NOW.plus(1)), "an earlier revocation stands");
    assert_eq!(revoked_at(theirs.id.clone()).await, None, "other applications' tokens are untouched");

    // Purge: only what expired strictly before the cut-off (times near the epoch: no other check uses them).
    let mk = |expires: i64| {
        let mut t = token(&app, &owner, true);
        t.issued_at = UnixTime(expires - 10);
        t.expires_at = UnixTime(expires);
        t
    };
    let (old1, old2, edge, live) = (mk(1_000), mk(1_500), mk(2_000), mk(3_000));
    store.write_batch(&tokens_only(vec![old1.clone(), old2.clone(), edge.clone(), live.clone()])).await.unwrap();
    assert_eq!(store.purge_expired_tokens(UnixTime(2_000)).await.unwrap(), 2);
    assert!(store.token_by_id(&old1.id).await.unwrap().is_none());
    assert!(store.token_by_id(&old2.id).await.unwrap().is_none());
    assert!(store.token_by_id(&edge.id).await.unwrap().is_some());
    assert!(store.token_by_id(&live.id).await.unwrap().is_some());
    assert_eq!(store.purge_expired_tokens(UnixTime(2_000)).await.unwrap(), 0);
    // More than one purge chunk's worth.
    let many = 5_050;
    let bulk: Vec<AccessTokenRecord> = (0..many).map(|_| mk(2_500)).collect();
    for part in bulk.chunks(1_000) {
        store.write_batch(&tokens_only(part.to_vec())).await.unwrap();
    }
    assert_eq!(store.purge_expired_tokens(UnixTime(3_001)).await.unwrap(), 2 + many as u64);
    assert!(store.token_by_id(&bulk[many - 1].id).await.unwrap().is_none());
    assert!(store.token_by_id(&ts[0].id).await.unwrap().is_some(), "unexpired tokens stay");
}

pub async fn audit(store: &dyn Store) {
    let u = uid();
    let client = format!("audited-{u}");
    let t0 = NOW.plus(10_000);
    let e1 = AuditEvent::new(t0, format!("client:{client}"), format!("x{u}.token.issued"), Outcome::Success)
        .client(client.clone())
        .account("alice")
        .scopes("read email")
        .source(Some("192.0.2.1".into()))
        .detail(serde_json::json!({ "jti": "abc", "nested": { "n": 1, "list": [1, 2] } }));
    let e2 = AuditEvent::new(t0.plus(10), "cli:root", format!("x{u}.token.refused"), Outcome::Failure)
        .client(client.clone())
        .detail(serde_json::json!({ "error": "invalid_scope" }));
    let e3 = AuditEvent::new(t0.plus(20), "system", format!("x{u}.application.created"), Outcome::Success)
        .client(client.clone());
    let elsewhere = AuditEvent::new(t0.plus(15), "system", format!("x{u}.token.issued"), Outcome::Success)
        .client(format!("elsewhere-{u}"));
    // Written out of time order, and in two batches.
    store
        .write_batch(&WriteBatch { audit: vec![e2.clone(), elsewhere.clone()], ..WriteBatch::default() })
        .await
        .unwrap();
    store.write_batch(&WriteBatch { audit: vec![e3.clone(), e1.clone()], ..WriteBatch::default() }).await.unwrap();

    let q = |f: &dyn Fn(&mut AuditQuery)| {
        let mut q = AuditQuery { client_id: Some(client.clone()), ..AuditQuery::default() };
        f(&mut q);
        q
    };
    let events = |q: AuditQuery| async move {
        store.audit_events(&q).await.unwrap().into_iter().map(|e| e.event).collect::<Vec<_>>()
    };

    assert_eq!(events(q(&|_| {})).await, vec![e3.clone(), e2.clone(), e1.clone()], "newest first, all fields");
    assert_eq!(events(q(&|q| q.limit = 2)).await, vec![e3.clone(), e2.clone()]);
    assert_eq!(events(q(&|q| q.since = Some(t0.plus(10)))).await, vec![e3.clone(), e2.clone()]);
    assert_eq!(events(q(&|q| q.until = Some(t0.plus(10)))).await, vec![e2.clone(), e1.clone()]);
    assert_eq!(
        events(q(&|q| {
            q.since = Some(t0.plus(5));
            q.until = Some(t0.plus(15));
        }))
        .await,
        vec![e2.clone()]
    );
    assert_eq!(events(q(&|q| q.action_prefix = Some(format!("x{u}.token.")))).await, vec![e2.clone(), e1.clone()]);
    assert_eq!(events(q(&|q| q.action_prefix = Some(format!("X{u}.TOKEN.")))).await, vec![], "prefix is exact");
    assert_eq!(events(q(&|q| q.action_prefix = Some("x%".into()))).await, vec![], "no wildcards");
    assert_eq!(
        events(AuditQuery { action_prefix: Some(format!("x{u}.token.issued")), ..AuditQuery::default() }).await,
        vec![elsewhere.clone(), e1.clone()],
        "without a client filter"
    );
    assert_eq!(events(q(&|q| q.client_id = Some("nobody".into()))).await, vec![]);

    let stored = store.audit_events(&q(&|_| {})).await.unwrap();
    assert!(stored.windows(2).all(|w| w[0].seq != w[1].seq));
}

/// Group commit through the [`Journal`]: concurrent commits all land, and a bad one fails alone.
pub async fn journal(store: Arc<dyn Store>) {
    let (owner, app) = app(store.as_ref()).await;
    let existing = token(&app, &owner, true);
    store.write_batch(&tokens_only(vec![existing.clone()])).await.unwrap();
    let (journal, writer) = Journal::start(store.clone(), 64);
    let client = format!("journal-{}", uid());

    let mut tasks = Vec::new();
    for i in 0..200 {
        let mut t = token(&app, &owner, i % 2 == 0);
        if i == 77 {
            t.id = existing.id.clone();
        }
        let batch = WriteBatch {
            tokens: vec![t.clone()],
            revocations: vec![],
            audit: vec![AuditEvent::new(NOW, "system", "token.issued", Outcome::Success).client(client.clone())],
            observations: vec![],
            refresh_tokens: vec![],
        };
        let j = journal.clone();
        tasks.push(tokio::spawn(async move { (i, t, j.commit(batch).await) }));
    }
    for task in tasks {
        let (i, t, r) = task.await.unwrap();
        if i == 77 {
            assert!(r.is_err(), "the duplicate fails");
        } else {
            r.unwrap();
            assert_eq!(store.token_by_id(&t.id).await.unwrap().unwrap().record, t);
        }
    }
    let events = store.audit_events(&AuditQuery { client_id: Some(client), ..AuditQuery::default() }).await.unwrap();
    assert_eq!(events.len(), 199);
    drop(journal);
    writer.await.unwrap();
}

fn observation(client: &str, route: &str, at: UnixTime, count: u64) -> charter_core::observation::Observation {
    charter_core::observation::Observation {
        at,
        source: charter_core::observation::ObservationSource::Decision,
        reporter: "catalogue-rs".into(),
        client_id: client.into(),
        method: "GET".into(),
        route: route.into(),
        scopes_held: "read".into(),
        required_all: "catalog:read".into(),
        required_any: String::new(),
        mode: charter_wire::Mode::ReportOnly,
        decision: charter_wire::Decision::WouldDeny,
        reason: "missing_scope".into(),
        count,
    }
}

/// Observations are written in batches and read back aggregated, per application and window.
pub async fn observations_aggregate(store: &dyn Store) {
    use charter_core::access_report::ObservationSummary;
    let client = format!("obs-{}", uid());
    let mut intro = observation(&client, "introspection", NOW.plus(5), 3);
    intro.source = charter_core::observation::ObservationSource::Introspection;
    intro.decision = charter_wire::Decision::Allow;
    intro.reason = "active".into();
    let batch = WriteBatch {
        observations: vec![
            observation(&client, "/api/courses", NOW, 2),
            observation(&client, "/api/courses", NOW.plus(10), 5),
            observation(&client, "/api/courses", NOW.plus(1000), 7),
            observation("someone-else", "/api/courses", NOW, 11),
            intro,
        ],
        ..WriteBatch::default()
    };
    store.write_batch(&batch).await.unwrap();
    let q = |since: i64, until: i64| crate::ObservationQuery { client_id: client.clone(), since: NOW.plus(since), until: NOW.plus(until) };
    let rows: Vec<ObservationSummary> = store.observations(&q(0, 100)).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let courses = rows.iter().find(|r| r.route == "/api/courses").unwrap();
    assert_eq!(courses.count, 7);
    assert_eq!((courses.first_at, courses.last_at), (NOW, NOW.plus(10)));
    assert_eq!(courses.required_all, "catalog:read");
    assert_eq!(courses.mode, charter_wire::Mode::ReportOnly);
    assert_eq!(courses.decision, charter_wire::Decision::WouldDeny);
    let intro = rows.iter().find(|r| r.route == "introspection").unwrap();
    assert_eq!(intro.source, charter_core::observation::ObservationSource::Introspection);
    assert_eq!(intro.count, 3);
    let all = store.observations(&q(0, 2000)).await.unwrap();
    assert_eq!(all.iter().find(|r| r.route == "/api/courses").unwrap().count, 14);
    assert!(store.observations(&q(2000, 3000)).await.unwrap().is_empty());
    // A failed batch leaves no observation behind.
    assert!(store.observations(&crate::ObservationQuery { client_id: "app-x".into(), since: UnixTime(0), until: UnixTime(i64::MAX) }).await.unwrap().is_empty());
}

/// Password hashes, login by username or (unique) email, and failed-login counts.
pub async fn user_logins(store: &dyn Store) {
    let name = format!("learner-{}", uid());
    let email = format!("{name}@Example.org");
    let acct = store
        .create_account(&NewAccount {
            id: None,
            username: name.clone(),
            kind: AccountKind::User,
            email: Some(email.clone()),
            full_name: Some("Ada Learner".into()),
            is_staff: false,
            is_superuser: false,
            anonymous_id: uuid::Uuid::new_v4().simple().to_string(),
            created_at: NOW,
        })
        .await
        .unwrap();
    let (a, hash) = store.login_account(&name).await.unwrap().unwrap();
    assert_eq!((a.id, hash), (acct.id, None));
    store.set_account_password(&name, Some("$argon2id$v=19$fake"), NOW).await.unwrap();
    let (_, hash) = store.login_account(&email.to_lowercase()).await.unwrap().unwrap();
    assert_eq!(hash.as_deref(), Some("$argon2id$v=19$fake"));
    assert!(store.login_account("nobody-at-all").await.unwrap().is_none());
    assert_not_found(store.set_account_password("nobody-at-all", None, NOW).await, "password of a missing account");
    // An email two accounts share names nobody.
    let twin = format!("twin-{}", uid());
    store
        .create_account(&NewAccount {
            id: None,
            username: twin,
            kind: AccountKind::User,
            email: Some(email.clone()),
            full_name: None,
            is_staff: false,
            is_superuser: false,
            anonymous_id: uuid::Uuid::new_v4().simple().to_string(),
            created_at: NOW,
        })
        .await
        .unwrap();
    assert!(store.login_account(&email).await.unwrap().is_none());
    // Failures are counted per account and per source, within the window.
    let src = format!("10.0.0.{}", uid().len());
    store.record_login_failure(NOW, &name, &src).await.unwrap();
    store.record_login_failure(NOW.plus(10), &name, "192.0.2.1").await.unwrap();
    store.record_login_failure(NOW.plus(20), "someone", &src).await.unwrap();
    assert_eq!(store.login_failures_since(&name, &src, NOW).await.unwrap(), (2, 2));
    assert_eq!(store.login_failures_since(&name, &src, NOW.plus(5)).await.unwrap(), (1, 1));
}

fn refresh_for(t: &AccessTokenRecord, family: Option<&str>) -> charter_core::refresh::RefreshTokenRecord {
    let id = uuid::Uuid::new_v4().simple().to_string();
    charter_core::refresh::RefreshTokenRecord {
        family_id: family.map(str::to_owned).unwrap_or_else(|| id.clone()),
        id,
        digest: digest(),
        access_token_id: t.id.clone(),
        application_id: t.application_id.clone(),
        client_id: t.client_id.clone(),
        account_id: t.account_id,
        scopes: t.scopes.clone(),
        filters: t.filters.clone(),
        grant_type: GrantType::Password,
        issued_at: NOW,
        expires_at: Some(NOW.plus(86_400)),
        rotated_at: None,
        revoked_at: None,
    }
}

/// Refresh tokens: stored with their access token, rotated once only, revoked by family.
pub async fn refresh_tokens(store: &dyn Store) {
    let (owner, app) = app(store).await;
    let a1 = token(&app, &owner, true);
    let r1 = refresh_for(&a1, None);
    store.write_batch(&WriteBatch { tokens: vec![a1.clone()], refresh_tokens: vec![r1.clone()], ..WriteBatch::default() }).await.unwrap();
    let s = store.refresh_token_by_id(&r1.id).await.unwrap().unwrap();
    assert_eq!(s.record, r1);
    assert_eq!(s.application_status, Status::Active);
    assert_eq!(s.username, owner.username);
    assert!(store.refresh_token_by_id("no-such").await.unwrap().is_none());

    // Rotation: the first use wins and writes the next pair; the second finds it used.
    let a2 = token(&app, &owner, true);
    let r2 = refresh_for(&a2, Some(&r1.family_id));
    let next = WriteBatch { tokens: vec![a2.clone()], refresh_tokens: vec![r2.clone()], ..WriteBatch::default() };
    assert!(store.rotate_refresh_token(&r1.id, NOW.plus(5), &next).await.unwrap());
    assert_eq!(store.refresh_token_by_id(&r1.id).await.unwrap().unwrap().record.rotated_at, Some(NOW.plus(5)));
    assert!(store.refresh_token_by_id(&r2.id).await.unwrap().is_some());
    let a3 = token(&app, &owner, true);
    let r3 = refresh_for(&a3, Some(&r1.family_id));
    let again = WriteBatch { tokens: vec![a3.clone()], refresh_tokens: vec![r3.clone()], ..WriteBatch::default() };
    assert!(!store.rotate_refresh_token(&r1.id, NOW.plus(6), &again).await.unwrap());
    assert!(store.token_by_id(&a3.id).await.unwrap().is_none(), "nothing written for a reused token");

    // Revoking the family revokes every refresh token and the access tokens issued with them.
    assert_eq!(store.revoke_refresh_family(&r1.family_id, NOW.plus(7)).await.unwrap(), 2);
    for id in [&a1.id, &a2.id] {
        assert_eq!(store.token_by_id(id).await.unwrap().unwrap().record.revoked_at, Some(NOW.plus(7)));
    }
    assert!(store.refresh_token_by_id(&r2.id).await.unwrap().unwrap().record.revoked_at.is_some());
    assert!(!store.rotate_refresh_token(&r2.id, NOW.plus(8), &again).await.unwrap(), "a revoked token cannot rotate");
    assert_eq!(store.revoke_refresh_family(&r1.family_id, NOW.plus(9)).await.unwrap(), 0);
}

/// An administrative change and its audit event land together, or neither does.
pub async fn audited_changes(store: &dyn Store) {
    let name = format!("audited-{}", uid());
    let event = |action: &str| AuditEvent::new(NOW, "cli:test", action, Outcome::Success).account(name.clone());
    let new = NewAccount {
        id: None,
        username: name.clone(),
        kind: AccountKind::Service,
        email: None,
        full_name: None,
        is_staff: false,
        is_superuser: false,
        anonymous_id: uuid::Uuid::new_v4().simple().to_string(),
        created_at: NOW,
    };
    store.create_account_audited(&new, Some(&event("test.created"))).await.unwrap();
    // A refused change (duplicate username) writes no event.
    let mut dup = new.clone();
    dup.anonymous_id = uuid::Uuid::new_v4().simple().to_string();
    assert_conflict(store.create_account_audited(&dup, Some(&event("test.duplicate"))).await, "duplicate username");
    assert_not_found(
        store.set_account_status_audited("no-such-account", Status::Suspended, NOW, Some(&event("test.missing"))).await,
        "status of a missing account",
    );
    store.set_account_status_audited(&name, Status::Suspended, NOW, Some(&event("test.suspended"))).await.unwrap();
    let events = store.audit_events(&AuditQuery { action_prefix: Some("test.".into()), ..AuditQuery::default() }).await.unwrap();
    let mine: Vec<&str> = events.iter().filter(|e| e.event.account.as_deref() == Some(name.as_str())).map(|e| e.event.action.as_str()).collect();
    assert_eq!(mine, ["test.suspended", "test.created"]);
    assert!(!events.iter().any(|e| e.event.action == "test.duplicate" || e.event.action == "test.missing"));
}

/// Sessions, authorization codes (single use, with what they issued) and remembered consent.
pub async fn browser_sign_in(store: &dyn Store) {
    use charter_core::browser::{CodeRecord, PkceChallenge, PkceMethod, SessionRecord};
    let (owner, app) = app(store).await;
    let session = SessionRecord {
        id: uuid::Uuid::new_v4().simple().to_string(),
        digest: digest(),
        account_id: owner.id,
        csrf: "csrf-token".into(),
        auth_time: NOW,
        expires_at: NOW.plus(3600),
        revoked_at: None,
    };
    store.insert_session(&session).await.unwrap();
    let (s, a) = store.session_by_id(&session.id).await.unwrap().unwrap();
    assert_eq!((s.clone(), a.id), (session.clone(), owner.id));
    store.revoke_session(&session.id, NOW.plus(1)).await.unwrap();
    let second = SessionRecord { id: uuid::Uuid::new_v4().simple().to_string(), ..session.clone() };
    store.insert_session(&second).await.unwrap();
    assert_eq!(store.revoke_sessions_of(owner.id, NOW.plus(2)).await.unwrap(), 1, "only the live one");
    assert_eq!(store.session_by_id(&second.id).await.unwrap().unwrap().0.revoked_at, Some(NOW.plus(2)));
    assert_eq!(store.session_by_id(&session.id).await.unwrap().unwrap().0.revoked_at, Some(NOW.plus(1)));
    assert!(store.session_by_id("nope").await.unwrap().is_none());

    let code = CodeRecord {
        id: uuid::Uuid::new_v4().simple().to_string(),
        digest: digest(),
        application_id: app.id.clone(),
        client_id: app.client_id.as_str().to_owned(),
        account_id: owner.id,
        redirect_uri: "https://app.example.com/cb".into(),
        scopes: scopes("read grades:read"),
        pkce: Some(PkceChallenge { challenge: "c".repeat(43), method: PkceMethod::S256 }),
        nonce: Some("n-1".into()),
        auth_time: NOW,
        issued_at: NOW,
        expires_at: NOW.plus(60),
        used_at: None,
    };
    store.insert_code(&code).await.unwrap();
    assert_eq!(store.code_by_id(&code.id).await.unwrap().unwrap(), code);
    let t = token(&app, &owner, true);
    let r = refresh_for(&t, None);
    let batch = WriteBatch { tokens: vec![t.clone()], refresh_tokens: vec![r.clone()], ..WriteBatch::default() };
    assert!(store.redeem_code(&code.id, NOW.plus(2), &t.id, Some(&r.family_id), &batch).await.unwrap());
    assert_eq!(store.code_by_id(&code.id).await.unwrap().unwrap().used_at, Some(NOW.plus(2)));
    let t2 = token(&app, &owner, true);
    let again = WriteBatch { tokens: vec![t2.clone()], ..WriteBatch::default() };
    assert!(!store.redeem_code(&code.id, NOW.plus(3), &t2.id, None, &again).await.unwrap());
    assert!(store.token_by_id(&t2.id).await.unwrap().is_none(), "nothing written for a used code");
    // The reuse revokes the access token and the refresh family the first use issued.
    assert!(store.revoke_code_tokens(&code.id, NOW.plus(4)).await.unwrap() >= 2);
    assert_eq!(store.token_by_id(&t.id).await.unwrap().unwrap().record.revoked_at, Some(NOW.plus(4)));
    assert!(store.refresh_token_by_id(&r.id).await.unwrap().unwrap().record.revoked_at.is_some());

    assert!(store.consent(owner.id, &app.id).await.unwrap().is_none());
    store.grant_consent(owner.id, &app.id, &scopes("read"), NOW).await.unwrap();
    store.grant_consent(owner.id, &app.id, &scopes("grades:read"), NOW.plus(1)).await.unwrap();
    assert_eq!(store.consent(owner.id, &app.id).await.unwrap(), Some(scopes("grades:read read")), "consent accumulates");
    let listed = store.consents_of(owner.id).await.unwrap();
    assert_eq!(listed, vec![(app.client_id.as_str().to_owned(), scopes("grades:read read"), NOW.plus(1))]);
    // Withdrawing consent revokes the user's tokens of that application at once.
    let live = token(&app, &owner, true);
    let live_refresh = refresh_for(&live, None);
    store.write_batch(&WriteBatch { tokens: vec![live.clone()], refresh_tokens: vec![live_refresh.clone()], ..WriteBatch::default() }).await.unwrap();
    assert_eq!(store.withdraw_consent(owner.id, &app.id, NOW.plus(9)).await.unwrap(), 2);
    assert!(store.consent(owner.id, &app.id).await.unwrap().is_none());
    assert_eq!(store.token_by_id(&live.id).await.unwrap().unwrap().record.revoked_at, Some(NOW.plus(9)));
    assert!(store.refresh_token_by_id(&live_refresh.id).await.unwrap().unwrap().record.revoked_at.is_some());
}
