//! The [`Store`](crate::Store) implementation both backends share.
//!
//! Every statement in [`crate::codec`] runs unchanged on SQLite and PostgreSQL, so
//! the trait is implemented once, by this macro, for each backend's pool type. A
//! backend supplies only what differs:
//!
//! - a field `pool: sqlx::Pool<DB>`, and `const BACKEND: &'static str`;
//! - `async fn migrate_schema(&self) -> Result<()>`;
//! - `async fn begin_write(&self) -> Result<sqlx::Transaction<'static, DB>>` (SQLite takes the
//!   write lock up front with `BEGIN IMMEDIATE`);
//! - `async fn explicit_account_id(tx, id) -> Result<()>`, run after inserting an account with an
//!   explicit id (PostgreSQL moves its identity sequence past it);
//! - `async fn write_batch_in(tx, batch) -> Result<()>`, the bulk writes.

/// The reads of the token hot path through sqlx, for backends with no faster way.
macro_rules! sqlx_hot_reads {
    ($store:ty, $db:ty) => {
        impl $store {
            async fn sqlx_client_record(&self, client_id: &str) -> $crate::Result<Option<$crate::ClientLookup>> {
                let rows = sqlx::query::<$db>($crate::codec::CLIENT_RECORD).bind(client_id).fetch_all(&self.pool).await?;
                $crate::codec::client_lookup(&rows)
            }
            async fn sqlx_token_by_id(&self, id: &str) -> $crate::Result<Option<charter_core::introspection::TokenState>> {
                let row = sqlx::query::<$db>($crate::codec::TOKEN_BY_ID).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map($crate::codec::token_state).transpose()
            }
            async fn sqlx_write_batch(&self, batch: &$crate::WriteBatch) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                Self::write_batch_in(&mut tx, batch).await?;
                tx.commit().await?;
                Ok(())
            }
            async fn sqlx_revisions(&self) -> $crate::Result<$crate::Revisions> {
                let row = sqlx::query::<$db>($crate::codec::REVISIONS).fetch_optional(&self.pool).await?;
                match row {
                    Some(r) => $crate::codec::revisions(&r),
                    None => Err($crate::StoreError::Corrupt("the revisions row is missing".into())),
                }
            }
        }
    };
}

pub(crate) use sqlx_hot_reads;

macro_rules! shared_store_impl {
    ($store:ty, $db:ty) => {
        impl $store {
            /// Writes an administrative change's audit event in the change's own transaction.
            async fn audit_in(
                tx: &mut sqlx::Transaction<'static, $db>,
                audit: Option<&charter_core::audit::AuditEvent>,
            ) -> $crate::Result<()> {
                if let Some(e) = audit {
                    let batch = $crate::WriteBatch { audit: vec![e.clone()], ..Default::default() };
                    Self::write_batch_in(tx, &batch).await?;
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::Store for $store {
            async fn migrate(&self) -> $crate::Result<()> {
                self.migrate_schema().await
            }

            async fn ping(&self) -> $crate::Result<()> {
                sqlx::query::<$db>($crate::codec::PING).execute(&self.pool).await?;
                Ok(())
            }

            fn backend(&self) -> &'static str {
                Self::BACKEND
            }

            // --- accounts ----------------------------------------------------------

            async fn create_account_audited(&self, new: &$crate::NewAccount, audit: Option<&charter_core::audit::AuditEvent>) -> $crate::Result<charter_core::client::Account> {
                use $crate::codec::Cols as _;
                let status = charter_core::client::Status::Active;
                let sql = if new.id.is_some() { $crate::codec::INSERT_ACCOUNT_WITH_ID } else { $crate::codec::INSERT_ACCOUNT };
                let mut q = sqlx::query::<$db>(sql)
                    .bind(new.username.as_str())
                    .bind(new.kind.as_str())
                    .bind(new.email.as_deref())
                    .bind(new.full_name.as_deref())
                    .bind(new.is_staff)
                    .bind(new.is_superuser)
                    .bind(status.as_str())
                    .bind(new.anonymous_id.as_str())
                    .bind(new.created_at.0);
                if let Some(id) = new.id {
                    q = q.bind(id);
                }
                let mut tx = self.begin_write().await?;
                let row = q.fetch_one(&mut *tx).await?;
                let id = row.int("id")?;
                if new.id.is_some() {
                    Self::explicit_account_id(&mut tx, id).await?;
                }
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(charter_core::client::Account {
                    id,
                    username: new.username.clone(),
                    kind: new.kind,
                    email: new.email.clone(),
                    full_name: new.full_name.clone(),
                    is_staff: new.is_staff,
                    is_superuser: new.is_superuser,
                    status,
                    anonymous_id: new.anonymous_id.clone(),
                    created_at: new.created_at,
                })
            }

            async fn account_by_username(&self, username: &str) -> $crate::Result<Option<charter_core::client::Account>> {
                let row = sqlx::query::<$db>($crate::codec::ACCOUNT_BY_USERNAME)
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map($crate::codec::account).transpose()
            }

            async fn account_by_id(&self, id: i64) -> $crate::Result<Option<charter_core::client::Account>> {
                let row = sqlx::query::<$db>($crate::codec::ACCOUNT_BY_ID).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map($crate::codec::account).transpose()
            }

            async fn list_accounts(
                &self,
                kind: Option<charter_core::client::AccountKind>,
            ) -> $crate::Result<Vec<charter_core::client::Account>> {
                let rows = sqlx::query::<$db>($crate::codec::LIST_ACCOUNTS)
                    .bind(kind.map(|k| k.as_str()))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::codec::account).collect()
            }

            async fn set_account_status_audited(
                &self,
                username: &str,
                status: charter_core::client::Status,
                now: charter_core::time::UnixTime,
                audit: Option<&charter_core::audit::AuditEvent>,
            ) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query::<$db>($crate::codec::SET_ACCOUNT_STATUS)
                    .bind(username)
                    .bind(status.as_str())
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound(format!("account '{username}'")));
                }
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn set_account_password_audited(
                &self,
                username: &str,
                hash: Option<&str>,
                now: charter_core::time::UnixTime,
                audit: Option<&charter_core::audit::AuditEvent>,
            ) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query::<$db>($crate::codec::SET_ACCOUNT_PASSWORD)
                    .bind(username)
                    .bind(hash)
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound(format!("account '{username}'")));
                }
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn login_account(
                &self,
                username_or_email: &str,
            ) -> $crate::Result<Option<(charter_core::client::Account, Option<String>)>> {
                use $crate::codec::Cols as _;
                let by_name = sqlx::query::<$db>($crate::codec::LOGIN_BY_USERNAME)
                    .bind(username_or_email)
                    .fetch_optional(&self.pool)
                    .await?;
                let row = match by_name {
                    Some(r) => r,
                    None if username_or_email.contains('@') => {
                        let mut rows = sqlx::query::<$db>($crate::codec::LOGIN_BY_EMAIL)
                            .bind(username_or_email)
                            .fetch_all(&self.pool)
                            .await?;
                        if rows.len() != 1 {
                            return Ok(None);
                        }
                        match rows.pop() {
                            Some(r) => r,
                            None => return Ok(None),
                        }
                    }
                    None => return Ok(None),
                };
                Ok(Some(($crate::codec::account(&row)?, row.opt_text("password_hash")?)))
            }

            async fn record_login_failure(
                &self,
                at: charter_core::time::UnixTime,
                account: &str,
                source: &str,
            ) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query::<$db>($crate::codec::INSERT_LOGIN_FAILURE)
                    .bind(at.0)
                    .bind(account)
                    .bind(source)
                    .execute(&mut *tx)
                    .await?;
                // Keep the table small: failures older than a day count for nothing.
                sqlx::query::<$db>($crate::codec::PURGE_LOGIN_FAILURES).bind(at.0 - 86_400).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn login_failures_since(
                &self,
                account: &str,
                source: &str,
                since: charter_core::time::UnixTime,
            ) -> $crate::Result<(u64, u64)> {
                use $crate::codec::Cols as _;
                let row = sqlx::query::<$db>($crate::codec::LOGIN_FAILURES)
                    .bind(account)
                    .bind(source)
                    .bind(since.0)
                    .fetch_one(&self.pool)
                    .await?;
                let n = |c: &str| row.int(c).map(|v| u64::try_from(v).unwrap_or(0));
                Ok((n("by_account")?, n("by_source")?))
            }

            // --- applications ------------------------------------------------------

            async fn create_application_audited(&self, app: &charter_core::client::Application, audit: Option<&charter_core::audit::AuditEvent>) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                let q = sqlx::query::<$db>($crate::codec::INSERT_APPLICATION).bind(app.id.as_str()).bind(app.client_id.as_str());
                $crate::codec::bind_application(q, app)
                    .bind(app.created_at.0)
                    .bind(app.updated_at.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| $crate::codec::owner_not_found(e, app.owner_id))?;
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn update_application_audited(&self, app: &charter_core::client::Application, audit: Option<&charter_core::audit::AuditEvent>) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                let q = sqlx::query::<$db>($crate::codec::UPDATE_APPLICATION).bind(app.client_id.as_str());
                let done = $crate::codec::bind_application(q, app)
                    .bind(app.updated_at.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| $crate::codec::owner_not_found(e, app.owner_id))?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound(format!("application '{}'", app.client_id)));
                }
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn application(&self, client_id: &str) -> $crate::Result<Option<charter_core::client::Application>> {
                let row = sqlx::query::<$db>($crate::codec::APPLICATION_BY_CLIENT_ID)
                    .bind(client_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map($crate::codec::application).transpose()
            }

            async fn list_applications(
                &self,
                owner_id: Option<i64>,
            ) -> $crate::Result<Vec<charter_core::client::Application>> {
                let rows = sqlx::query::<$db>($crate::codec::LIST_APPLICATIONS)
                    .bind(owner_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::codec::application).collect()
            }

            async fn client_record(&self, client_id: &str) -> $crate::Result<Option<$crate::ClientLookup>> {
                self.hot_client_record(client_id).await
            }

            // --- client secrets ----------------------------------------------------

            async fn add_secret_audited(&self, client_id: &str, secret: &charter_core::client::ClientSecret, audit: Option<&charter_core::audit::AuditEvent>) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query::<$db>($crate::codec::INSERT_SECRET)
                    .bind(client_id)
                    .bind(secret.id.as_str())
                    .bind(&secret.digest[..])
                    .bind(secret.label.as_deref())
                    .bind(secret.created_at.0)
                    .bind(secret.expires_at.map(|t| t.0))
                    .bind(secret.revoked_at.map(|t| t.0))
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound(format!("application '{client_id}'")));
                }
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn list_secrets(&self, client_id: &str) -> $crate::Result<Vec<charter_core::client::ClientSecret>> {
                let rows = sqlx::query::<$db>($crate::codec::LIST_SECRETS).bind(client_id).fetch_all(&self.pool).await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in &rows {
                    if let Some(s) = $crate::codec::secret(r)? {
                        out.push(s);
                    }
                }
                Ok(out)
            }

            async fn revoke_secret_audited(
                &self,
                client_id: &str,
                secret_id: &str,
                now: charter_core::time::UnixTime,
                audit: Option<&charter_core::audit::AuditEvent>,
            ) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query::<$db>($crate::codec::REVOKE_SECRET)
                    .bind(client_id)
                    .bind(secret_id)
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound(format!("secret '{secret_id}' of '{client_id}'")));
                }
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn set_secret_expiry_audited(
                &self,
                client_id: &str,
                secret_id: &str,
                expires_at: Option<charter_core::time::UnixTime>,
                audit: Option<&charter_core::audit::AuditEvent>,
            ) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query::<$db>($crate::codec::SET_SECRET_EXPIRY)
                    .bind(client_id)
                    .bind(secret_id)
                    .bind(expires_at.map(|t| t.0))
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound(format!("secret '{secret_id}' of '{client_id}'")));
                }
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            // --- scope catalogue ---------------------------------------------------

            async fn upsert_resource_audited(&self, resource: &charter_core::scope_policy::Resource, audit: Option<&charter_core::audit::AuditEvent>) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query::<$db>($crate::codec::UPSERT_RESOURCE)
                    .bind(resource.name.as_str())
                    .bind(resource.service.as_str())
                    .bind(resource.description.as_str())
                    .bind(resource.extra_actions.join(" "))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query::<$db>($crate::codec::BUMP_CATALOGUE).execute(&mut *tx).await?;
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn upsert_scope_audited(&self, scope: &charter_core::scope_policy::ScopeDefinition, audit: Option<&charter_core::audit::AuditEvent>) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query::<$db>($crate::codec::UPSERT_SCOPE)
                    .bind(scope.name.as_str())
                    .bind(scope.description.as_str())
                    .bind(scope.is_default)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query::<$db>($crate::codec::DELETE_TRANSLATIONS)
                    .bind(scope.name.as_str())
                    .execute(&mut *tx)
                    .await?;
                for (locale, text) in &scope.translations {
                    sqlx::query::<$db>($crate::codec::INSERT_TRANSLATION)
                        .bind(scope.name.as_str())
                        .bind(locale.as_str())
                        .bind(text.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query::<$db>($crate::codec::BUMP_CATALOGUE).execute(&mut *tx).await?;
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_scope_audited(&self, name: &str, audit: Option<&charter_core::audit::AuditEvent>) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query::<$db>($crate::codec::DELETE_SCOPE).bind(name).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound(format!("scope '{name}'")));
                }
                sqlx::query::<$db>($crate::codec::BUMP_CATALOGUE).execute(&mut *tx).await?;
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn resources(&self) -> $crate::Result<Vec<charter_core::scope_policy::Resource>> {
                let rows = sqlx::query::<$db>($crate::codec::RESOURCES).fetch_all(&self.pool).await?;
                rows.iter().map($crate::codec::resource).collect()
            }

            async fn scopes(&self) -> $crate::Result<Vec<charter_core::scope_policy::ScopeDefinition>> {
                let rows = sqlx::query::<$db>($crate::codec::SCOPES).fetch_all(&self.pool).await?;
                $crate::codec::scopes(&rows)
            }

            // --- tokens and audit --------------------------------------------------

            async fn write_batch(&self, batch: &$crate::WriteBatch) -> $crate::Result<()> {
                if batch.is_empty() {
                    return Ok(());
                }
                self.hot_write_batch(batch).await
            }

            async fn token_by_id(&self, id: &str) -> $crate::Result<Option<charter_core::introspection::TokenState>> {
                self.hot_token_by_id(id).await
            }

            async fn refresh_token_by_id(
                &self,
                id: &str,
            ) -> $crate::Result<Option<charter_core::refresh::RefreshTokenState>> {
                let row = sqlx::query::<$db>($crate::codec::REFRESH_BY_ID).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map($crate::codec::refresh_state).transpose()
            }

            async fn rotate_refresh_token(
                &self,
                old_id: &str,
                at: charter_core::time::UnixTime,
                batch: &$crate::WriteBatch,
            ) -> $crate::Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query::<$db>($crate::codec::ROTATE_REFRESH).bind(old_id).bind(at.0).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                Self::write_batch_in(&mut tx, batch).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn revoke_refresh_family(
                &self,
                family_id: &str,
                at: charter_core::time::UnixTime,
            ) -> $crate::Result<u64> {
                let mut tx = self.begin_write().await?;
                sqlx::query::<$db>($crate::codec::REVOKE_FAMILY_ACCESS).bind(family_id).bind(at.0).execute(&mut *tx).await?;
                let done = sqlx::query::<$db>($crate::codec::REVOKE_FAMILY).bind(family_id).bind(at.0).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn insert_session(&self, s: &charter_core::browser::SessionRecord) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query::<$db>($crate::codec::INSERT_SESSION)
                    .bind(s.id.as_str())
                    .bind(&s.digest[..])
                    .bind(s.account_id)
                    .bind(s.csrf.as_str())
                    .bind(s.auth_time.0)
                    .bind(s.expires_at.0)
                    .bind(s.revoked_at.map(|t| t.0))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn session_by_id(
                &self,
                id: &str,
            ) -> $crate::Result<Option<(charter_core::browser::SessionRecord, charter_core::client::Account)>> {
                let row = sqlx::query::<$db>($crate::codec::SESSION_BY_ID).bind(id).fetch_optional(&self.pool).await?;
                match row {
                    Some(r) => Ok(Some(($crate::codec::session(&r)?, $crate::codec::account(&r)?))),
                    None => Ok(None),
                }
            }

            async fn revoke_session(&self, id: &str, at: charter_core::time::UnixTime) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query::<$db>($crate::codec::REVOKE_SESSION).bind(id).bind(at.0).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn revoke_sessions_of(&self, account_id: i64, at: charter_core::time::UnixTime) -> $crate::Result<u64> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query::<$db>($crate::codec::REVOKE_SESSIONS_OF).bind(account_id).bind(at.0).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn insert_code(&self, c: &charter_core::browser::CodeRecord) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query::<$db>($crate::codec::INSERT_CODE)
                    .bind(c.id.as_str())
                    .bind(&c.digest[..])
                    .bind(c.application_id.as_str())
                    .bind(c.client_id.as_str())
                    .bind(c.account_id)
                    .bind(c.redirect_uri.as_str())
                    .bind(c.scopes.to_space_separated())
                    .bind(c.pkce.as_ref().map(|p| p.challenge.as_str()))
                    .bind(c.pkce.as_ref().map(|p| p.method.as_str()))
                    .bind(c.nonce.as_deref())
                    .bind(c.auth_time.0)
                    .bind(c.issued_at.0)
                    .bind(c.expires_at.0)
                    .bind(c.used_at.map(|t| t.0))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn code_by_id(&self, id: &str) -> $crate::Result<Option<charter_core::browser::CodeRecord>> {
                let row = sqlx::query::<$db>($crate::codec::CODE_BY_ID).bind(id).fetch_optional(&self.pool).await?;
                row.as_ref().map($crate::codec::code).transpose()
            }

            async fn redeem_code(
                &self,
                id: &str,
                at: charter_core::time::UnixTime,
                access_token_id: &str,
                refresh_family: Option<&str>,
                batch: &$crate::WriteBatch,
            ) -> $crate::Result<bool> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query::<$db>($crate::codec::REDEEM_CODE)
                    .bind(id)
                    .bind(at.0)
                    .bind(access_token_id)
                    .bind(refresh_family)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                Self::write_batch_in(&mut tx, batch).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn revoke_code_tokens(&self, id: &str, at: charter_core::time::UnixTime) -> $crate::Result<u64> {
                use $crate::codec::Cols as _;
                let mut tx = self.begin_write().await?;
                let row = sqlx::query::<$db>($crate::codec::CODE_ISSUED).bind(id).fetch_optional(&mut *tx).await?;
                let mut n = 0;
                if let Some(r) = row {
                    if let Some(access) = r.opt_text("access_token_id")? {
                        n += sqlx::query::<$db>($crate::codec::REVOKE_TOKEN_BY_ID).bind(access.as_str()).bind(at.0).execute(&mut *tx).await?.rows_affected();
                    }
                    if let Some(family) = r.opt_text("refresh_family")? {
                        n += sqlx::query::<$db>($crate::codec::REVOKE_FAMILY_ACCESS).bind(family.as_str()).bind(at.0).execute(&mut *tx).await?.rows_affected();
                        n += sqlx::query::<$db>($crate::codec::REVOKE_FAMILY).bind(family.as_str()).bind(at.0).execute(&mut *tx).await?.rows_affected();
                    }
                }
                tx.commit().await?;
                Ok(n)
            }

            async fn consent(
                &self,
                account_id: i64,
                application_id: &str,
            ) -> $crate::Result<Option<charter_core::scope::ScopeSet>> {
                let row = sqlx::query::<$db>($crate::codec::CONSENT).bind(account_id).bind(application_id).fetch_optional(&self.pool).await?;
                row.as_ref().map($crate::codec::consent_scopes).transpose()
            }

            async fn grant_consent(
                &self,
                account_id: i64,
                application_id: &str,
                scopes: &charter_core::scope::ScopeSet,
                at: charter_core::time::UnixTime,
            ) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                let before = sqlx::query::<$db>($crate::codec::CONSENT).bind(account_id).bind(application_id).fetch_optional(&mut *tx).await?;
                let union = match before {
                    Some(r) => $crate::codec::consent_scopes(&r)?.union(scopes),
                    None => scopes.clone(),
                };
                sqlx::query::<$db>($crate::codec::UPSERT_CONSENT)
                    .bind(account_id)
                    .bind(application_id)
                    .bind(union.to_space_separated())
                    .bind(at.0)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn consents_of(
                &self,
                account_id: i64,
            ) -> $crate::Result<Vec<(String, charter_core::scope::ScopeSet, charter_core::time::UnixTime)>> {
                use $crate::codec::Cols as _;
                let rows = sqlx::query::<$db>($crate::codec::CONSENTS_OF).bind(account_id).fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| Ok((r.text("client_id")?, $crate::codec::consent_scopes(r)?, charter_core::time::UnixTime(r.int("granted_at")?))))
                    .collect()
            }

            async fn withdraw_consent(
                &self,
                account_id: i64,
                application_id: &str,
                at: charter_core::time::UnixTime,
            ) -> $crate::Result<u64> {
                let mut tx = self.begin_write().await?;
                sqlx::query::<$db>($crate::codec::DELETE_CONSENT).bind(account_id).bind(application_id).execute(&mut *tx).await?;
                let a = sqlx::query::<$db>($crate::codec::REVOKE_USER_APP_ACCESS).bind(account_id).bind(application_id).bind(at.0).execute(&mut *tx).await?;
                let r = sqlx::query::<$db>($crate::codec::REVOKE_USER_APP_REFRESH).bind(account_id).bind(application_id).bind(at.0).execute(&mut *tx).await?;
                // Codes not yet exchanged cannot be exchanged any more.
                sqlx::query::<$db>($crate::codec::BURN_USER_APP_CODES).bind(account_id).bind(application_id).bind(at.0).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(a.rows_affected() + r.rows_affected())
            }

            async fn revoke_application_tokens_audited(
                &self,
                client_id: &str,
                now: charter_core::time::UnixTime,
                audit: Option<&charter_core::audit::AuditEvent>,
            ) -> $crate::Result<u64> {
                let mut tx = self.begin_write().await?;
                let done = sqlx::query::<$db>($crate::codec::REVOKE_APPLICATION_TOKENS)
                    .bind(client_id)
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(done.rows_affected())
            }

            async fn purge_expired_tokens(&self, before: charter_core::time::UnixTime) -> $crate::Result<u64> {
                // In chunks, each its own transaction, so that token writes interleave.
                let mut total = 0;
                loop {
                    let mut tx = self.begin_write().await?;
                    let done = sqlx::query::<$db>($crate::codec::PURGE_EXPIRED_TOKENS)
                        .bind(before.0)
                        .bind($crate::codec::PURGE_CHUNK)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    total += done.rows_affected();
                    if done.rows_affected() < $crate::codec::PURGE_CHUNK as u64 {
                        return Ok(total);
                    }
                }
            }

            async fn observations(
                &self,
                query: &$crate::ObservationQuery,
            ) -> $crate::Result<Vec<charter_core::access_report::ObservationSummary>> {
                let rows = sqlx::query::<$db>($crate::codec::OBSERVATION_SUMMARY)
                    .bind(query.client_id.as_str())
                    .bind(query.since.0)
                    .bind(query.until.0)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map($crate::codec::observation_summary).collect()
            }

            async fn audit_events(&self, query: &$crate::AuditQuery) -> $crate::Result<Vec<$crate::StoredAuditEvent>> {
                let limit = if query.limit == 0 { i64::MAX } else { i64::from(query.limit) };
                let sql = $crate::codec::audit_sql(query);
                let mut q = sqlx::query::<$db>(&sql);
                if let Some(c) = &query.client_id {
                    q = q.bind(c.as_str());
                }
                if let Some(p) = &query.action_prefix {
                    q = q.bind(p.as_str());
                }
                if let Some(t) = query.since {
                    q = q.bind(t.0);
                }
                if let Some(t) = query.until {
                    q = q.bind(t.0);
                }
                let rows = q.bind(limit).fetch_all(&self.pool).await?;
                rows.iter().map($crate::codec::audit_event).collect()
            }

            // --- signing keys ------------------------------------------------------

            async fn insert_key_audited(&self, key: &charter_core::keys::StoredKey, audit: Option<&charter_core::audit::AuditEvent>) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                sqlx::query::<$db>($crate::codec::INSERT_KEY)
                    .bind(key.kid.as_str())
                    .bind(key.alg.as_str())
                    .bind(key.sealed_private.as_slice())
                    .bind(key.public_jwk.as_str())
                    .bind(key.created_at.0)
                    .bind(key.activates_at.0)
                    .bind(key.retired_at.map(|t| t.0))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query::<$db>($crate::codec::BUMP_KEYS).execute(&mut *tx).await?;
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn keys(&self) -> $crate::Result<Vec<charter_core::keys::StoredKey>> {
                let rows = sqlx::query::<$db>($crate::codec::KEYS).fetch_all(&self.pool).await?;
                rows.iter().map($crate::codec::key).collect()
            }

            async fn retire_key_audited(&self, kid: &str, now: charter_core::time::UnixTime, audit: Option<&charter_core::audit::AuditEvent>) -> $crate::Result<()> {
                let mut tx = self.begin_write().await?;
                let done =
                    sqlx::query::<$db>($crate::codec::RETIRE_KEY).bind(kid).bind(now.0).execute(&mut *tx).await?;
                if done.rows_affected() == 0 {
                    return Err($crate::StoreError::NotFound(format!("signing key '{kid}'")));
                }
                sqlx::query::<$db>($crate::codec::BUMP_KEYS).execute(&mut *tx).await?;
                Self::audit_in(&mut tx, audit).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn revisions(&self) -> $crate::Result<$crate::Revisions> {
                self.hot_revisions().await
            }
        }
    };
}

pub(crate) use shared_store_impl;
