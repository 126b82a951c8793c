//! The moto server of this checkout's `local` stage: installed pinned on first use, started by
//! `cargo xtask local` on a free loopback port and recorded in `target/local/moto.json`. Every
//! other verb finds the running stage through that record.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub struct Emulator {
    pub endpoint: String,
    /// Set when this run started it (and so stops it).
    child: Option<Child>,
}

fn state_file() -> PathBuf {
    crate::paths::target_dir().join("local/moto.json")
}

/// The endpoint of the moto that `cargo xtask local` runs for this checkout, if it is running.
pub fn running() -> Option<String> {
    recorded_port().filter(|p| listening(*p)).map(|port| format!("http://127.0.0.1:{port}"))
}

impl Emulator {
    pub fn ensure() -> Result<Emulator> {
        if let Some(endpoint) = running() {
            eprintln!("local: reusing the moto server this checkout already runs at {endpoint}");
            return Ok(Emulator { endpoint, child: None });
        }
        let bin = crate::paths::tools("moto")?.join("moto_server");
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log_path = crate::paths::target_dir().join("local/moto.log");
        std::fs::create_dir_all(log_path.parent().context("log folder")?)?;
        let log = std::fs::File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let mut child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !listening(port) {
            if let Some(status) = child.try_wait()? {
                bail!("moto exited ({status}) before it listened; see {}", log_path.display());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("moto did not listen on 127.0.0.1:{port} within 30 s; see {}", log_path.display());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        std::fs::write(state_file(), serde_json::json!({ "port": port, "pid": child.id() }).to_string())?;
        eprintln!("local: started moto on 127.0.0.1:{port} (log: {})", log_path.display());
        Ok(Emulator { endpoint: format!("http://127.0.0.1:{port}"), child: Some(child) })
    }

    pub fn started_here(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(state_file());
        }
    }
}

fn recorded_port() -> Option<u16> {
    let text = std::fs::read_to_string(state_file()).ok()?;
    serde_json::from_str::<serde_json::Value>(&text).ok()?["port"].as_u64().and_then(|p| u16::try_from(p).ok())
}

fn listening(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)).is_ok()
}
