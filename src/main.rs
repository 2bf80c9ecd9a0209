//! The `milena` binary: parse the command line, load `server.properties`, open the data
//! directory, serve until SIGINT or SIGTERM, then close every log cleanly.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use milena::broker::{Broker, Endpoint};
use milena::config::BrokerConfig;
use milena::server::tls::TlsListener;
use milena::server::ListenerTransport;
use tokio::net::TcpListener;

/// A Kafka-compatible broker: one binary, no JVM, no ZooKeeper.
///
/// Reads Kafka's `server.properties` names; `KAFKA_*` environment variables override them as in
/// the official Docker images (KAFKA_ADVERTISED_LISTENERS sets advertised.listeners).
#[derive(Debug, Parser)]
#[command(name = "milena", version)]
struct Cli {
    /// The broker's properties file, as given to kafka-server-start.sh. Without one, Milena
    /// reads config/server.properties if it exists, else runs on the built-in defaults
    /// (localhost:9092, data under ./data).
    config: Option<PathBuf>,

    /// Overrides one property, like kafka-server-start.sh --override (repeatable).
    #[arg(long = "override", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
}

const DEFAULT_CONFIG: &str = "config/server.properties";

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let path = cli.config.clone().or_else(|| {
        let default = PathBuf::from(DEFAULT_CONFIG);
        default.exists().then_some(default)
    });
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    for item in &cli.overrides {
        let (key, value) = item
            .split_once('=')
            .with_context(|| format!("--override expects KEY=VALUE, got '{item}'"))?;
        // Overrides win over the environment: feed them last, spelled as environment variables.
        env.push((
            milena::config::env_name_for(key.trim()),
            value.trim().to_string(),
        ));
    }
    let (config, warnings) = BrokerConfig::load(path.as_deref(), env.into_iter())?;
    // The configuration names the log's format, so nothing is logged before it is loaded (a
    // configuration error is printed by main's error return).
    milena::logging::init(config.log_format);
    match &path {
        Some(path) => tracing::info!(config = %path.display(), "loaded configuration"),
        None => tracing::info!("no {DEFAULT_CONFIG}; using built-in defaults"),
    }
    for warning in warnings {
        tracing::warn!("{warning}");
    }
    raise_open_file_limit();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(config))
}

/// Every partition holds open files: the soft limit on open files goes up to the hard limit at
/// start (as the JVM does for Kafka), and the log says how many the broker may hold.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(available) => tracing::info!(available, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot read or raise the open file limit"),
    }
}

async fn run(config: BrokerConfig) -> anyhow::Result<()> {
    // The controller listeners are for the quorum only; clients get every other listener.
    let controller_names: Vec<String> = config
        .raw_value("controller.listener.names")
        .unwrap_or("")
        .split(',')
        .map(|n| n.trim().to_ascii_uppercase())
        .collect();
    let mut client_listeners: Vec<_> = config
        .listeners
        .iter()
        .filter(|l| !controller_names.contains(&l.name))
        .cloned()
        .collect();
    anyhow::ensure!(
        !client_listeners.is_empty(),
        "listeners has no listener for clients"
    );
    // The inter-broker listener goes first: it is the endpoint other brokers use.
    let inter_broker = config
        .inter_broker_peer
        .as_ref()
        .map(|p| p.listener.clone())
        .or_else(|| {
            config
                .raw_value("inter.broker.listener.name")
                .map(str::to_string)
        })
        .map(|n| n.trim().to_ascii_uppercase())
        .unwrap_or_else(|| {
            config
                .raw_value("security.inter.broker.protocol")
                .unwrap_or("PLAINTEXT")
                .trim()
                .to_ascii_uppercase()
        });
    if let Some(at) = client_listeners.iter().position(|l| l.name == inter_broker) {
        client_listeners[..=at].rotate_right(1);
    }
    let mut bound = Vec::new();
    let mut endpoints = Vec::new();
    for l in &client_listeners {
        let socket = TcpListener::bind((l.bind_host(), l.port))
            .await
            .with_context(|| format!("cannot listen on {l}"))?;
        let port = socket.local_addr()?.port();
        let advertised = match config
            .advertised_listeners
            .iter()
            .find(|a| a.name == l.name)
        {
            Some(a) => Endpoint {
                host: a.host.clone(),
                port: i32::from(a.port),
            },
            None => Endpoint {
                // Kafka advertises the listener's host; for a wildcard one, clients on this
                // machine reach it as localhost.
                host: if l.is_wildcard() {
                    "localhost".to_string()
                } else {
                    l.host.clone()
                },
                port: i32::from(port),
            },
        };
        endpoints.push((l.name.clone(), advertised));
        let info = Arc::new(milena::security::ListenerInfo {
            name: l.name.clone(),
            protocol: l.protocol,
        });
        let transport = match config.ssl.get(&l.name) {
            Some(settings) if l.protocol.uses_tls() => ListenerTransport::Tls(Arc::new(
                TlsListener::new(settings).context("cannot set up TLS")?,
            )),
            _ => ListenerTransport::Plaintext,
        };
        bound.push((
            socket,
            info,
            transport,
            format!("{}://{}:{port}", l.name, l.bind_host()),
        ));
    }
    // Bound before anything starts, so a taken port stops start-up with a clear message.
    let http = match &config.http_listener {
        Some((host, port)) => {
            let host = if host.is_empty() {
                "0.0.0.0"
            } else {
                host.as_str()
            };
            let socket = TcpListener::bind((host, *port)).await.with_context(|| {
                format!("cannot listen on {host}:{port} (milena.http.listener)")
            })?;
            // HTTPS: the keystore is read now, so a bad one stops start-up.
            let tls = match &config.http_tls {
                Some(settings) => Some(Arc::new(
                    TlsListener::new(settings).context("cannot set up HTTPS")?,
                )),
                None => None,
            };
            Some((socket, tls))
        }
        None => None,
    };
    let started = std::time::Instant::now();
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let (fatal_tx, mut fatal_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let cluster = match &config.quorum {
        Some(quorum) => {
            let c = &quorum.controller_listener;
            let controller_listener = TcpListener::bind((c.bind_host(), c.port))
                .await
                .with_context(|| format!("cannot listen on {} (controller.listener.names)", c))?;
            let (log_dir, cluster_id) =
                Broker::open_log_dir(&config).context("cannot open the data directory")?;
            let node = milena::cluster::ClusterNode::start(
                &config,
                cluster_id,
                controller_listener,
                &log_dir,
                fatal_tx.clone(),
                shutdown_rx.clone(),
            )
            .await
            .context("cannot start the controller quorum")?;
            Some(node)
        }
        None => None,
    };
    let rack = config.raw_value("broker.rack").map(str::to_string);
    let broker = Broker::open_with(config, endpoints, cluster.clone())
        .context("cannot open the data directory")?;
    // What `kafka-storage.sh format` left for a new cluster, if the operator ran it. A cluster
    // applies it once the quorum answers; a single node before it serves anyone.
    let checkpoint = milena::metadata::bootstrap::read(&broker.log_dir)
        .map_err(anyhow::Error::msg)
        .context("cannot read the bootstrap checkpoint")?;
    if let Some((bootstrap, skipped)) = checkpoint {
        if !skipped.is_empty() {
            tracing::warn!(skipped = %skipped.join("; "), "bootstrap.checkpoint: not applied");
        }
        let task = apply_bootstrap(broker.clone(), bootstrap, shutdown_rx.clone());
        if cluster.is_some() {
            tokio::spawn(task);
        } else {
            task.await;
        }
    }
    tracing::info!(
        node_id = broker.node_id,
        cluster_id = %broker.cluster_id,
        listeners = %bound.iter().map(|(_, _, _, at)| at.as_str()).collect::<Vec<_>>().join(","),
        advertised = %broker
            .endpoints
            .iter()
            .map(|(name, e)| format!("{name}://{}:{}", e.host, e.port))
            .collect::<Vec<_>>()
            .join(","),
        log_dir = %broker.log_dir.display(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Milena started"
    );
    let http_server = match http {
        Some((socket, tls)) => {
            // The address actually bound (port 0 picks one), for the operator and the tests.
            if let Ok(at) = socket.local_addr() {
                let scheme = if tls.is_some() { "https" } else { "http" };
                tracing::info!(http = %at, scheme, "HTTP listener serving /metrics and the console");
            }
            Some(tokio::spawn(milena::http::serve(
                broker.clone(),
                socket,
                tls,
                shutdown_rx.clone(),
            )))
        }
        None => None,
    };

    let (lifecycle_stop, lifecycle_stop_rx) = tokio::sync::watch::channel(false);
    let mut lifecycle = None;
    if let Some(node) = &cluster {
        let endpoints = broker
            .endpoints
            .iter()
            .map(|(name, e)| milena::metadata::BrokerEndpoint {
                listener: name.clone(),
                host: e.host.clone(),
                port: e.port,
            })
            .collect();
        lifecycle = Some(tokio::spawn(node.clone().run_broker_lifecycle(
            endpoints,
            rack,
            lifecycle_stop_rx.clone(),
        )));
        tokio::spawn(publish_metadata(
            broker.clone(),
            node.published(),
            shutdown_rx.clone(),
        ));
        tokio::spawn(milena::cluster::isr::run(
            broker.clone(),
            node.clone(),
            shutdown_rx.clone(),
        ));
    }
    let housekeeping = tokio::spawn(housekeeping(broker.clone(), shutdown_rx.clone()));
    let group_timers = tokio::spawn(group_timers(broker.clone(), shutdown_rx.clone()));
    let txn_timers = tokio::spawn(txn_timers(broker.clone(), shutdown_rx.clone()));
    let cleaner_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cleaner = broker.config.log_cleaner_enable.then(|| {
        let (broker, stop) = (broker.clone(), cleaner_stop.clone());
        std::thread::Builder::new()
            .name("log-cleaner".into())
            .spawn(move || milena::partition::cleaner::run(&broker.replicas, &broker.config, &stop))
    });
    let permits = Arc::new(tokio::sync::Semaphore::new(broker.limits.max_connections));
    let servers: Vec<_> = bound
        .into_iter()
        .map(|(socket, info, transport, _)| {
            tokio::spawn(milena::server::serve(
                broker.clone(),
                socket,
                info,
                transport,
                permits.clone(),
                shutdown_rx.clone(),
            ))
        })
        .collect();

    let fatal = tokio::select! {
        _ = wait_for_signal() => None,
        reason = fatal_rx.recv() => reason,
    };
    tracing::info!("shutting down");
    if let (Some(node), None) = (&cluster, &fatal) {
        // Stop heartbeating first (a heartbeat would unfence again), then hand over.
        let _ = lifecycle_stop.send(true);
        if let Some(task) = lifecycle.take() {
            let _ = task.await;
        }
        node.controlled_shutdown().await;
    }
    let _ = shutdown_tx.send(true);
    for server in servers {
        let _ = server.await;
    }
    if let Some(server) = http_server {
        let _ = server.await;
    }
    let _ = housekeeping.await;
    let _ = group_timers.await;
    let _ = txn_timers.await;
    cleaner_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(Ok(handle)) = cleaner {
        // The cleaner holds partitions while it works: let it go before the logs are closed.
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
    }
    // Connections end at their next read; give in-flight requests a moment to finish.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let broker_for_close = broker.clone();
    let logs_closed =
        tokio::task::spawn_blocking(move || broker_for_close.replicas.shutdown()).await?;
    if let Some(node) = &cluster {
        node.shutdown().await;
        if logs_closed {
            node.mark_clean_shutdown();
        }
    }
    if let Some(reason) = fatal {
        anyhow::bail!("stopped: {reason}");
    }
    tracing::info!("shut down cleanly");
    Ok(())
}

/// Cluster mode: applies every committed metadata image to the hosted partitions (opens the
/// replicas placed here, deletes those of deleted topics, sets leader epochs).
/// Applies each metadata change to the hosted partitions (roles, epochs, new and deleted
/// logs) and the coordinators (groups move with leadership), then points the replica fetchers
/// at the leaders this node now follows. The fetchers
/// stop with this task.
async fn publish_metadata(
    broker: Arc<Broker>,
    mut published: tokio::sync::watch::Receiver<milena::cluster::raft::Published>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut fetchers = milena::cluster::fetcher::ReplicaFetchers::new();
    fetchers.assign(&broker);
    loop {
        tokio::select! {
            changed = published.changed() => if changed.is_err() { return },
            _ = shutdown.changed() => return,
        }
        published.borrow_and_update();
        let applying = broker.clone();
        let applied = tokio::task::spawn_blocking(move || {
            let applied = applying.apply_metadata();
            applying.sync_coordinators();
            applied
        })
        .await;
        if let Ok(Err(e)) = applied {
            tracing::error!(error = %e, "applying metadata to partition logs failed");
        }
        fetchers.assign(&broker);
    }
}

/// Offers this node's bootstrap checkpoint to the controller until it answers (a cluster's quorum
/// may still be forming); only the first node's is applied, once (src/metadata/bootstrap.rs).
async fn apply_bootstrap(
    broker: Arc<Broker>,
    bootstrap: milena::metadata::bootstrap::Bootstrap,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let credentials = bootstrap.scram.len();
    loop {
        if broker.image().bootstrapped {
            return;
        }
        let (b, offered) = (broker.clone(), bootstrap.clone());
        let outcome =
            tokio::task::spawn_blocking(move || b.controller.apply_bootstrap(b.node_id, offered))
                .await
                .map_err(|e| e.to_string())
                .and_then(|applied| applied.map_err(|e| e.to_string()));
        match outcome {
            Ok(true) => {
                tracing::info!(
                    credentials,
                    features = bootstrap.features.len(),
                    "applied bootstrap.checkpoint (kafka-storage.sh format)"
                );
                return;
            }
            Ok(false) => return,
            Err(error) if broker.cluster.is_some() => {
                tracing::debug!(%error, "bootstrap.checkpoint not applied yet")
            }
            Err(error) => {
                tracing::error!(%error, "applying bootstrap.checkpoint failed");
                return;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// How often housekeeping tries again to open offline partitions.
const REOPEN_OFFLINE_EVERY: Duration = Duration::from_secs(30);

/// Retention, time-based segment rolls and time-based flushes, for every partition; and every
/// `producer.id.expiration.check.interval.ms`, forgetting producers idle for
/// `producer.id.expiration.ms`. The first expiry pass runs at the first tick: Kafka leaves
/// expired producers out when it loads a snapshot, and this is how they leave here.
async fn housekeeping(broker: Arc<Broker>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let retention_every =
        Duration::from_millis(broker.config.log_retention_check_interval_ms.max(1000) as u64);
    let expiry_every = Duration::from_millis(
        broker
            .config
            .producer_id_expiration_check_interval_ms
            .max(1) as u64,
    );
    let expiration_ms = broker.config.producer_id_expiration_ms;
    let mut last_retention = std::time::Instant::now();
    let mut last_expiry: Option<std::time::Instant> = None;
    let tick_every = expiry_every.min(Duration::from_secs(1));
    let mut tick = tokio::time::interval(tick_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_reopen = std::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let check_retention = last_retention.elapsed() >= retention_every;
        if check_retention {
            last_retention = std::time::Instant::now();
        }
        let expire_producers = last_expiry
            .is_none_or(|at| at.elapsed() >= expiry_every)
            .then_some(expiration_ms);
        if expire_producers.is_some() {
            last_expiry = Some(std::time::Instant::now());
        }
        // Partitions whose log could not be opened (file descriptors ran out) are tried again
        // now and then, not only at the next metadata change.
        let reopen = broker.replicas.has_offline() && last_reopen.elapsed() >= REOPEN_OFFLINE_EVERY;
        if reopen {
            last_reopen = std::time::Instant::now();
        }
        let broker = broker.clone();
        let done = tokio::task::spawn_blocking(move || {
            if reopen {
                if let Err(e) = broker.apply_metadata() {
                    tracing::error!(error = %e, "applying metadata to partition logs failed");
                }
                broker.sync_coordinators();
            }
            let now = milena::partition::manager::now_ms();
            for partition in broker.replicas.all() {
                if let Err(e) = partition.housekeeping(now, check_retention, expire_producers) {
                    tracing::error!(topic = %partition.topic, partition = partition.index, error = %e, "log housekeeping failed");
                }
            }
        });
        let _ = done.await;
    }
}

/// Session expiry, rebalance timeouts and the initial rebalance delay of consumer groups.
async fn group_timers(broker: Arc<Broker>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        broker.groups.tick(&broker);
    }
}

/// Completes prepared transactions whose markers are not all written (every 500 ms: a new
/// coordinator finishes what the old one began), and aborts transactions that outlived
/// `transaction.timeout.ms` every `transaction.abort.timed.out.transaction.cleanup.interval.ms`.
async fn txn_timers(broker: Arc<Broker>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let period = Duration::from_millis(broker.txns.abort_check_interval_ms().min(500));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let broker = broker.clone();
        // Markers may fsync (milena.flush.on.ack): keep them off the async workers.
        let _ = tokio::task::spawn_blocking(move || broker.txns.tick(&broker)).await;
    }
}
