//! Integration tests: each starts real PostgreSQL clusters from the installed binaries, in
//! temporary folders under /tmp (made searchable, since as root the server runs as another
//! user). A cluster a failed test leaves running is stopped when its folder is dropped.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use sitrep_embedded_pg::{Cluster, ClusterConfig, ClusterError, PgBinaries};
use sqlx::{Connection, PgConnection, Row};

/// A temporary folder for data folders; stops any server still running in them on drop.
struct Scratch {
    dir: tempfile::TempDir,
    data_dirs: Vec<PathBuf>,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("sitrep-epg-")
            .tempdir_in("/tmp")
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Scratch {
            dir,
            data_dirs: Vec::new(),
        }
    }

    /// A data folder path inside (not created).
    fn data_dir(&mut self, relative: &str) -> PathBuf {
        let path = self.dir.path().join(relative);
        self.data_dirs.push(path.clone());
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let Ok(binaries) = PgBinaries::discover(None) else {
            return;
        };
        for data_dir in &self.data_dirs {
            if !data_dir.join("postmaster.pid").exists() {
                continue;
            }
            let mut command = std::process::Command::new(binaries.pg_ctl());
            command
                .args(["stop", "-m", "immediate", "-D"])
                .arg(data_dir)
                .current_dir("/");
            if let (true, Ok(meta)) = (is_root(), std::fs::metadata(data_dir)) {
                command.uid(meta.uid()).gid(meta.gid());
            }
            let _ = command.output();
        }
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

async fn connect(cluster: &Cluster) -> PgConnection {
    PgConnection::connect_with(&cluster.connect_options())
        .await
        .unwrap()
}

async fn show(conn: &mut PgConnection, setting: &str) -> String {
    sqlx::query(&format!("SHOW {setting}"))
        .fetch_one(conn)
        .await
        .unwrap()
        .get::<String, _>(0)
}

#[tokio::test]
async fn data_survives_a_restart() {
    let mut scratch = Scratch::new();
    let data_dir = scratch.data_dir("pg");
    let config = ClusterConfig::new(&data_dir).with_setting("work_mem", "8MB");

    let cluster = Cluster::start(config.clone()).await.unwrap();
    assert!(cluster.started_here());
    assert!(data_dir.join("PG_VERSION").is_file());
    assert_eq!(cluster.socket_dir(), scratch.dir.path().join("pg.run"));
    let socket_meta = std::fs::metadata(cluster.socket_dir()).unwrap();
    assert_eq!(socket_meta.permissions().mode() & 0o777, 0o700);
    if is_root() {
        assert_ne!(
            socket_meta.uid(),
            0,
            "the socket dir belongs to the server's user"
        );
        assert_ne!(std::fs::metadata(&data_dir).unwrap().uid(), 0);
    }

    let mut conn = connect(&cluster).await;
    assert_eq!(show(&mut conn, "work_mem").await, "8MB");
    assert_eq!(show(&mut conn, "listen_addresses").await, "");
    assert_eq!(show(&mut conn, "server_encoding").await, "UTF8");
    let user: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(user, "sitrep");
    sqlx::query("CREATE TABLE note (id int PRIMARY KEY, body text NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO note VALUES (1, 'still here')")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    cluster.stop().await.unwrap();
    assert!(
        !data_dir.join("postmaster.pid").exists(),
        "the server stopped"
    );

    let cluster = Cluster::start(config).await.unwrap();
    assert!(cluster.started_here());
    let mut conn = connect(&cluster).await;
    let body: String = sqlx::query_scalar("SELECT body FROM note WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(body, "still here");
    conn.close().await.unwrap();
    cluster.stop().await.unwrap();
}

#[tokio::test]
async fn a_running_cluster_is_reused() {
    let mut scratch = Scratch::new();
    let config = ClusterConfig::new(scratch.data_dir("pg"));

    let first = Cluster::start(config.clone()).await.unwrap();
    assert!(first.started_here());
    let second = Cluster::start(config.clone()).await.unwrap();
    assert!(!second.started_here());
    assert_eq!(second.socket_dir(), first.socket_dir());
    let mut conn = connect(&second).await;
    assert_eq!(show(&mut conn, "listen_addresses").await, "");
    conn.close().await.unwrap();

    // A process that dies without stopping leaves the server running: the next start reuses it.
    drop(first);
    drop(second);
    let third = Cluster::start(config.clone()).await.unwrap();
    assert!(!third.started_here());
    third.stop().await.unwrap();

    // Stopping a server that is already stopped is fine.
    let stale = Cluster::start(config.clone()).await.unwrap();
    assert!(stale.started_here());
    let other = Cluster::start(config).await.unwrap();
    stale.stop().await.unwrap();
    other.stop().await.unwrap();
}

#[tokio::test]
async fn concurrent_starts_take_turns() {
    let mut scratch = Scratch::new();
    let config = ClusterConfig::new(scratch.data_dir("pg"));

    let (a, b) = tokio::join!(Cluster::start(config.clone()), Cluster::start(config));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        a.started_here() != b.started_here(),
        "exactly one of them started the server"
    );
    for cluster in [&a, &b] {
        let mut conn = connect(cluster).await;
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(one, 1);
        conn.close().await.unwrap();
    }
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

#[tokio::test]
async fn a_long_path_puts_the_socket_under_tmp() {
    let mut scratch = Scratch::new();
    let deep = format!("{}/pg", "a-rather-long-folder-name".repeat(5));
    let data_dir = scratch.data_dir(&deep);
    assert!(data_dir.as_os_str().len() > 107);

    let cluster = Cluster::start(ClusterConfig::new(&data_dir)).await.unwrap();
    assert!(
        cluster
            .socket_dir()
            .to_string_lossy()
            .starts_with("/tmp/sitrep-pg-"),
        "{}",
        cluster.socket_dir().display()
    );
    let mut conn = connect(&cluster).await;
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    conn.close().await.unwrap();
    let socket_dir = cluster.socket_dir().to_path_buf();
    cluster.stop().await.unwrap();
    assert!(
        !socket_dir.exists(),
        "stop removes the socket dir under /tmp"
    );
}

#[test]
fn bogus_binaries_dir_is_not_found() {
    let bogus = Path::new("/nonexistent/sitrep/pg/bin");
    let err = PgBinaries::discover(Some(bogus)).unwrap_err();
    assert!(
        matches!(&err, ClusterError::BinariesNotFound { searched } if searched == &[bogus.to_path_buf()]),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("DATABASE_URL"), "{message}");
    assert!(message.contains("/nonexistent/sitrep/pg/bin"), "{message}");
    assert!(message.contains("apt-get install postgresql"), "{message}");
}

#[test]
fn discovery_finds_the_installed_binaries() {
    let binaries = PgBinaries::discover(None).unwrap();
    assert!(binaries.initdb().is_file());
    assert!(binaries.pg_ctl().is_file());
    assert!(binaries.postgres().is_file());
    assert!(
        binaries.version.starts_with(|c: char| c.is_ascii_digit()),
        "{}",
        binaries.version
    );
}

#[tokio::test]
async fn a_bogus_binaries_dir_fails_start_without_creating_anything() {
    let mut scratch = Scratch::new();
    let data_dir = scratch.data_dir("sub/pg");
    let err = Cluster::start(ClusterConfig::new(&data_dir).with_bin_dir("/nonexistent"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClusterError::BinariesNotFound { .. }),
        "{err:?}"
    );
    assert!(!data_dir.parent().unwrap().exists());
}

#[tokio::test]
async fn managed_settings_are_refused() {
    let mut scratch = Scratch::new();
    let config = ClusterConfig::new(scratch.data_dir("pg")).with_setting("listen_addresses", "*");
    let err = Cluster::start(config).await.unwrap_err();
    assert!(matches!(err, ClusterError::InvalidConfig { .. }), "{err:?}");
}

#[tokio::test]
async fn as_root_an_unreachable_data_dir_is_refused() {
    if !is_root() {
        return;
    }
    let mut scratch = Scratch::new();
    let private = scratch.dir.path().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let data_dir = scratch.data_dir("private/pg");
    let err = Cluster::start(ClusterConfig::new(&data_dir))
        .await
        .unwrap_err();
    match &err {
        ClusterError::NotTraversable { blocked, .. } => assert_eq!(blocked, &private),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("private"), "{err}");
    // Nothing was changed.
    let mode = std::fs::metadata(&private).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}
