//! The api role's replica set: a slow index node and a dead one are
//! skipped (and counted), the answer comes from a healthy replica within
//! the query timeout, and with no replica left the error names each node.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use mediawatch_cluster::{ClusterMetrics, ReplicaSet};
use mediawatch_query::{QueryBackend, QueryError};

/// A fake index node answering every query with `answer` after `delay`.
async fn node(delay: Duration, answer: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/internal/query",
        post(move || async move {
            tokio::time::sleep(delay).await;
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                answer,
            )
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_dead_nodes_are_skipped_and_said() {
    let slow = node(Duration::from_secs(30), "1").await;
    let healthy = node(Duration::ZERO, "42").await;
    // A port nothing listens on.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let metrics = Arc::new(ClusterMetrics::default());
    let set = ReplicaSet::new(
        &[slow.clone(), dead.clone(), healthy.clone()],
        Duration::from_millis(500),
        metrics.clone(),
    )
    .unwrap();
    let set = Arc::new(set);
    for _ in 0..6 {
        let s = set.clone();
        let t = Instant::now();
        let n = tokio::task::spawn_blocking(move || s.num_docs())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 42);
        // At worst the slow node's timeout, once: a skipped node is passed
        // over for a while.
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    }
    let text = metrics.render_with(None);
    for n in [&slow, &dead] {
        assert!(
            text.contains(&format!(
                "mediawatch_cluster_node_skipped_total{{node=\"{n}\"}}"
            )),
            "{n} not counted as skipped:\n{text}"
        );
    }
    assert!(!text.contains(&format!("node=\"{healthy}\"")), "{text}");
    // Nothing answers: a 503-kind error naming every node.
    let none = Arc::new(
        ReplicaSet::new(
            &[slow.clone(), dead.clone()],
            Duration::from_millis(300),
            metrics,
        )
        .unwrap(),
    );
    let err = tokio::task::spawn_blocking(move || none.num_docs())
        .await
        .unwrap()
        .unwrap_err();
    let QueryError::Unavailable(m) = err else {
        panic!("not Unavailable: {err:?}");
    };
    assert!(m.contains(&slow) && m.contains(&dead), "{m}");
}
