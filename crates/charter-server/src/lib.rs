//! Charter's HTTP server: thin handlers around `charter-core`'s engine.
//!
//! Handlers extract, call a service function, and map the result. The
//! services (in `services/`) load what the engine needs from the store, call
//! the engine with the current time, and commit what it decided.

pub mod admin;
pub mod clock;
pub mod form;
pub mod i18n;
pub mod metrics;
pub mod observations;
pub mod oauth_response;
pub mod pages;
pub mod routes;
pub mod services;
pub mod settings;
pub mod state;

pub use clock::{Clock, ManualClock, SystemClock};
pub use settings::ServerSettings;
pub use state::AppState;

use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// Serves `state` on `listener` until `shutdown` resolves and the requests in
/// flight have finished (each waited for its own commit), then flushes the
/// observations still aggregated in memory.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = routes::router(state.clone());
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    state.shutdown().await;
    Ok(())
}
