//! The reference server's routes without the paywall: the baseline the load script
//! (`mpp-server/reference/load/run.sh`) compares the paywall's 402 path with.

use axum::Json;
use axum::Router;
use axum::routing::get;
use serde_json::json;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into());
    let app = Router::new()
        .route("/free", get(|| async { Json(json!({ "free": true })) }))
        .route(
            "/paid",
            get(|| async { Json(json!({ "ok": true, "route": "/paid" })) }),
        );
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}
