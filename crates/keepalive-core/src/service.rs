//! Running `cc-aws-keepalive daemon` as a per-user service: a launchd agent on
//! macOS, a systemd user unit on Linux, a Task Scheduler task on Windows.
//!
//! Generating the files is pure (the platform is a parameter, so both Unix
//! formats are tested on Linux); installing writes the file atomically and then
//! asks the service manager to (re)load it, or says what to run when it cannot.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ctx::Ctx;
use crate::env::{Env, vars};
use crate::fsutil::{self, FsError};
use crate::paths::{self, PathError};
use crate::process;

/// launchd label and Windows task name.
pub const LABEL: &str = "io.github.cc-aws-keepalive";
/// The systemd unit's file name.
pub const UNIT_NAME: &str = "cc-aws-keepalive.service";
/// Windows task name.
pub const TASK_NAME: &str = "cc-aws-keepalive";

/// Variables the daemon needs to find the same files and endpoints as the
/// shell it was installed from. Service managers start with a bare
/// environment, so they are written into the service definition.
const CARRIED: &[&str] = &[
    vars::HOME,
    vars::XDG_CONFIG_HOME,
    vars::XDG_STATE_HOME,
    vars::XDG_DATA_HOME,
    vars::AWS_CONFIG_FILE,
    vars::AWS_SHARED_CREDENTIALS_FILE,
    vars::AWS_PROFILE,
    vars::AWS_ENDPOINT_URL,
    vars::AWS_ENDPOINT_URL_SSO_OIDC,
    vars::AWS_ENDPOINT_URL_SSO,
    vars::AWS_CA_BUNDLE,
    vars::HTTPS_PROXY,
    vars::HTTPS_PROXY_LOWER,
    vars::NO_PROXY,
    vars::NO_PROXY_LOWER,
    vars::CLAUDE_CONFIG_DIR,
    vars::CC_KEEPALIVE_CONFIG,
    vars::CC_KEEPALIVE_PROFILE,
    vars::CC_KEEPALIVE_NOTIFY_CMD,
    vars::AWS_SSO_REFRESH_THRESHOLD,
    vars::AWS_SSO_REFRESH_INTERVAL,
];

/// Service managers are quick; one that hangs must not hang us.
const MANAGER_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Launchd,
    Systemd,
    TaskScheduler,
}

impl Platform {
    /// The service manager of the system we run on.
    pub fn current() -> Platform {
        if cfg!(target_os = "macos") {
            Platform::Launchd
        } else if cfg!(windows) {
            Platform::TaskScheduler
        } else {
            Platform::Systemd
        }
    }

    /// The platform to act for: [`Platform::current`], unless the test-only
    /// `CC_KEEPALIVE_SERVICE_PLATFORM` names another.
    pub fn from_env(env: &Env) -> Platform {
        match env.get(vars::CC_KEEPALIVE_SERVICE_PLATFORM).map(str::to_ascii_lowercase).as_deref() {
            Some("launchd") => Platform::Launchd,
            Some("systemd") => Platform::Systemd,
            Some("taskscheduler") => Platform::TaskScheduler,
            _ => Platform::current(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Platform::Launchd => "launchd agent",
            Platform::Systemd => "systemd user unit",
            Platform::TaskScheduler => "Task Scheduler task",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error("cannot remove {path}: {source} (remove it by hand)")]
    Remove { path: PathBuf, source: std::io::Error },
    #[error("the daemon's path {path} contains a line break or is not UTF-8; install the binary in a plain directory")]
    BadExe { path: PathBuf },
}

/// What the service runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The `cc-aws-keepalive` binary.
    pub exe: PathBuf,
    /// Environment written into the definition, in a stable order.
    pub env: Vec<(String, String)>,
    /// Where launchd sends the daemon's stderr (crash messages; events go to our log).
    pub stderr_log: Option<PathBuf>,
}

impl Spec {
    /// The spec for `exe` with the carried variables of `env`, plus `path_var`
    /// (the installing shell's `PATH`, so `autoLoginCmd` and the notifier are found).
    pub fn new(env: &Env, exe: &Path, path_var: Option<&str>) -> Spec {
        let mut carried: Vec<(String, String)> = Vec::new();
        if let Some(p) = path_var.filter(|p| usable_value(p)) {
            carried.push(("PATH".into(), p.to_string()));
        }
        for name in CARRIED {
            if let Some(v) = env.get(name).filter(|v| usable_value(v)) {
                carried.push(((*name).to_string(), v.to_string()));
            }
        }
        let stderr_log = paths::daemon_stderr_log(env).ok();
        Spec { exe: exe.to_path_buf(), env: carried, stderr_log }
    }
}

/// Values with control characters cannot be written safely into every format.
fn usable_value(v: &str) -> bool {
    !v.chars().any(char::is_control)
}

/// Where the definition lives for `platform`.
pub fn definition_path(platform: Platform, env: &Env) -> Result<PathBuf, ServiceError> {
    let home = || env.home().ok_or(PathError::NoHome { what: "the service directory", override_var: vars::HOME });
    Ok(match platform {
        Platform::Launchd => home()?.join("Library/LaunchAgents").join(format!("{LABEL}.plist")),
        Platform::Systemd => match env.get(vars::XDG_CONFIG_HOME) {
            Some(x) => PathBuf::from(x).join("systemd/user").join(UNIT_NAME),
            None => home()?.join(".config/systemd/user").join(UNIT_NAME),
        },
        // schtasks imports the XML once; we keep it to compare on re-install.
        Platform::TaskScheduler => paths::data_dir(env)?.join("cc-aws-keepalive-task.xml"),
    })
}

/// The service definition's text.
pub fn render(platform: Platform, spec: &Spec) -> Result<String, ServiceError> {
    let exe = spec.exe.to_str().filter(|s| usable_value(s)).ok_or(ServiceError::BadExe { path: spec.exe.clone() })?;
    Ok(match platform {
        Platform::Systemd => render_systemd(exe, spec),
        Platform::Launchd => render_launchd(exe, spec),
        Platform::TaskScheduler => render_task(exe),
    })
}

/// systemd's quoting: double quotes with C-style escapes; `%` starts a
/// specifier and `$` a variable in `ExecStart`, so both are doubled.
fn systemd_quote(s: &str, exec: bool) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '%' => out.push_str("%%"),
            '$' if exec => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn render_systemd(exe: &str, spec: &Spec) -> String {
    let mut s = String::new();
    s.push_str("# Generated by `cc-aws-keepalive service install`; re-run it after changing this.\n");
    s.push_str("[Unit]\n");
    s.push_str("Description=cc-aws-keepalive: keeps AWS SSO sessions alive\n");
    s.push_str("After=network-online.target\n");
    s.push_str("Wants=network-online.target\n\n");
    s.push_str("[Service]\n");
    s.push_str("Type=simple\n");
    s.push_str(&format!("ExecStart={} daemon\n", systemd_quote(exe, true)));
    for (k, v) in &spec.env {
        s.push_str(&format!("Environment={}\n", systemd_quote(&format!("{k}={v}"), false)));
    }
    // A crash or a refused start (another daemon running) is retried, slowly.
    s.push_str("Restart=on-failure\n");
    s.push_str("RestartSec=60\n");
    // SIGTERM ends the daemon at once; every file it writes is replaced atomically.
    s.push_str("TimeoutStopSec=10\n\n");
    s.push_str("[Install]\n");
    s.push_str("WantedBy=default.target\n");
    s
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

fn render_launchd(exe: &str, spec: &Spec) -> String {
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str(
        "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n",
    );
    s.push_str("<!-- Generated by `cc-aws-keepalive service install`; re-run it after changing this. -->\n");
    s.push_str("<plist version=\"1.0\">\n<dict>\n");
    s.push_str(&format!("  <key>Label</key>\n  <string>{}</string>\n", xml_escape(LABEL)));
    s.push_str("  <key>ProgramArguments</key>\n  <array>\n");
    s.push_str(&format!("    <string>{}</string>\n    <string>daemon</string>\n  </array>\n", xml_escape(exe)));
    if !spec.env.is_empty() {
        s.push_str("  <key>EnvironmentVariables</key>\n  <dict>\n");
        for (k, v) in &spec.env {
            s.push_str(&format!("    <key>{}</key>\n    <string>{}</string>\n", xml_escape(k), xml_escape(v)));
        }
        s.push_str("  </dict>\n");
    }
    s.push_str("  <key>RunAtLoad</key>\n  <true/>\n");
    // Restart after a crash, not after a clean exit.
    s.push_str("  <key>KeepAlive</key>\n  <dict>\n    <key>SuccessfulExit</key>\n    <false/>\n  </dict>\n");
    s.push_str("  <key>ThrottleInterval</key>\n  <integer>60</integer>\n");
    s.push_str("  <key>ProcessType</key>\n  <string>Background</string>\n");
    if let Some(log) = spec.stderr_log.as_ref().and_then(|p| p.to_str()).filter(|p| usable_value(p)) {
        s.push_str(&format!("  <key>StandardErrorPath</key>\n  <string>{}</string>\n", xml_escape(log)));
    }
    s.push_str("</dict>\n</plist>\n");
    s
}

fn render_task(exe: &str) -> String {
    // Task Scheduler cannot set environment variables; the user's own apply.
    let mut s = String::new();
    s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str("<Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\n");
    s.push_str("  <RegistrationInfo>\n    <Description>cc-aws-keepalive: keeps AWS SSO sessions alive</Description>\n  </RegistrationInfo>\n");
    s.push_str("  <Triggers>\n    <LogonTrigger>\n      <Enabled>true</Enabled>\n    </LogonTrigger>\n  </Triggers>\n");
    s.push_str("  <Principals>\n    <Principal id=\"Author\">\n      <LogonType>InteractiveToken</LogonType>\n      <RunLevel>LeastPrivilege</RunLevel>\n    </Principal>\n  </Principals>\n");
    s.push_str("  <Settings>\n");
    s.push_str("    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>\n");
    s.push_str("    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>\n");
    s.push_str("    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>\n");
    s.push_str("    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>\n");
    s.push_str(
        "    <RestartOnFailure>\n      <Interval>PT1M</Interval>\n      <Count>999</Count>\n    </RestartOnFailure>\n",
    );
    s.push_str("    <Hidden>true</Hidden>\n");
    s.push_str("  </Settings>\n");
    s.push_str("  <Actions Context=\"Author\">\n    <Exec>\n");
    s.push_str(&format!("      <Command>{}</Command>\n      <Arguments>daemon</Arguments>\n", xml_escape(exe)));
    s.push_str("    </Exec>\n  </Actions>\n</Task>\n");
    s
}

/// One service-manager command and how it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub command: String,
    pub outcome: StepOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    Ok,
    Failed(String),
    /// Not run: the manager is unreachable or calls are turned off; run it by hand.
    Manual,
}

/// What `install` or `uninstall` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub platform: Platform,
    pub path: PathBuf,
    /// The file was written (new or different) or removed.
    pub changed: bool,
    pub steps: Vec<Step>,
    /// Why manager commands were not run, when they were not.
    pub manual_reason: Option<String>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.steps.iter().all(|s| !matches!(s.outcome, StepOutcome::Failed(_)))
    }
}

/// Whether we may call the service manager: not when turned off by
/// `CC_KEEPALIVE_NO_SERVICE_MANAGER`, and for systemd only when
/// `systemctl --user` reaches a user manager (not in containers, SSH without
/// lingering, …).
fn manager_available(ctx: &Ctx, platform: Platform) -> Result<(), String> {
    if ctx.env.is_set(vars::CC_KEEPALIVE_NO_SERVICE_MANAGER) {
        return Err(format!("{} is set", vars::CC_KEEPALIVE_NO_SERVICE_MANAGER));
    }
    if platform != Platform::current() {
        return Err(format!("this system does not use the {}", platform.name()));
    }
    match platform {
        Platform::Systemd => match run_cmd(&["systemctl", "--user", "show-environment"]) {
            StepOutcome::Ok => Ok(()),
            _ => Err("`systemctl --user` cannot reach a user service manager here".into()),
        },
        Platform::Launchd | Platform::TaskScheduler => Ok(()),
    }
}

fn run_cmd(argv: &[&str]) -> StepOutcome {
    let Some((prog, args)) = argv.split_first() else { return StepOutcome::Ok };
    let mut cmd = std::process::Command::new(prog);
    cmd.args(args);
    match process::run_captured(cmd, prog, b"", MANAGER_TIMEOUT, 64 * 1024) {
        Ok(out) => match out.status {
            Some(s) if s.success() => StepOutcome::Ok,
            Some(s) => StepOutcome::Failed(format!("exited with {s}")),
            None => StepOutcome::Failed("timed out".into()),
        },
        Err(e) => StepOutcome::Failed(e.to_string()),
    }
}

/// Shell-quotes one argument for the commands we show people.
fn show_arg(a: &str) -> String {
    if !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c)) {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', "'\\''"))
    }
}

fn show(argv: &[String]) -> String {
    argv.iter().map(|a| show_arg(a)).collect::<Vec<_>>().join(" ")
}

/// The user id launchd's `gui/<uid>` domain needs: the owner of a file we just
/// wrote (that is us), which avoids both `unsafe` getuid and a child process.
fn owner_uid(path: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(m) = std::fs::metadata(path) {
            return m.uid().to_string();
        }
    }
    let _ = path;
    "$(id -u)".to_string()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn install_commands(platform: Platform, path: &Path, changed: bool) -> Vec<Vec<String>> {
    let p = path.to_string_lossy().into_owned();
    match platform {
        Platform::Systemd => {
            let mut cmds = vec![
                strings(&["systemctl", "--user", "daemon-reload"]),
                strings(&["systemctl", "--user", "enable", "--now", UNIT_NAME]),
            ];
            // `enable --now` leaves a running daemon on its old definition.
            if changed {
                cmds.push(strings(&["systemctl", "--user", "restart", UNIT_NAME]));
            }
            cmds
        }
        Platform::Launchd => {
            let domain = format!("gui/{}", owner_uid(path));
            vec![
                vec!["launchctl".into(), "bootout".into(), format!("{domain}/{LABEL}")],
                vec!["launchctl".into(), "bootstrap".into(), domain, p],
            ]
        }
        Platform::TaskScheduler => vec![
            vec!["schtasks".into(), "/Create".into(), "/TN".into(), TASK_NAME.into(), "/XML".into(), p, "/F".into()],
            strings(&["schtasks", "/Run", "/TN", TASK_NAME]),
        ],
    }
}

fn uninstall_commands(platform: Platform, path: &Path) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    // (before removing the file, after removing it)
    match platform {
        Platform::Systemd => (
            vec![strings(&["systemctl", "--user", "disable", "--now", UNIT_NAME])],
            vec![strings(&["systemctl", "--user", "daemon-reload"])],
        ),
        Platform::Launchd => {
            (vec![vec!["launchctl".into(), "bootout".into(), format!("gui/{}/{LABEL}", owner_uid(path))]], vec![])
        }
        Platform::TaskScheduler => (
            vec![
                strings(&["schtasks", "/End", "/TN", TASK_NAME]),
                strings(&["schtasks", "/Delete", "/TN", TASK_NAME, "/F"]),
            ],
            vec![],
        ),
    }
}

/// Whether a failure of this command is expected and harmless (stopping what
/// is not loaded).
fn tolerated(argv: &[String]) -> bool {
    matches!(argv.get(1).map(String::as_str), Some("bootout") | Some("/End"))
}

fn run_steps(cmds: &[Vec<String>], live: bool) -> Vec<Step> {
    cmds.iter()
        .map(|argv| {
            let outcome = if live {
                let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
                match run_cmd(&refs) {
                    StepOutcome::Failed(_) if tolerated(argv) => StepOutcome::Ok,
                    o => o,
                }
            } else {
                StepOutcome::Manual
            };
            Step { command: show(argv), outcome }
        })
        .collect()
}

/// Writes the definition (only when it differs: re-installing is idempotent)
/// and (re)starts the service.
pub fn install(ctx: &Ctx, platform: Platform, spec: &Spec) -> Result<Report, ServiceError> {
    let path = definition_path(platform, &ctx.env)?;
    let text = render(platform, spec)?;
    let current = fsutil::read_optional(&path)?;
    let changed = current.as_deref() != Some(text.as_str());
    if changed {
        if let Some(dir) = path.parent() {
            fsutil::ensure_dir(dir, 0o755)?;
        }
        // 0600: the environment may hold a proxy URL with a password.
        fsutil::write_atomic(&path, text.as_bytes(), Some(fsutil::SECRET_FILE_MODE))?;
    }
    if let Some(log) = &spec.stderr_log
        && let Some(dir) = log.parent()
    {
        fsutil::ensure_dir(dir, fsutil::SECRET_DIR_MODE)?;
    }
    let (live, manual_reason) = match manager_available(ctx, platform) {
        Ok(()) => (true, None),
        Err(why) => (false, Some(why)),
    };
    let steps = run_steps(&install_commands(platform, &path, changed), live);
    crate::log::write(
        ctx,
        crate::log::Level::Info,
        "service",
        &format!("install {}: {} ({})", platform.name(), path.display(), if changed { "written" } else { "unchanged" }),
    );
    Ok(Report { platform, path, changed, steps, manual_reason })
}

/// Stops the service and removes its definition. Nothing installed is not an error.
pub fn uninstall(ctx: &Ctx, platform: Platform) -> Result<Report, ServiceError> {
    let path = definition_path(platform, &ctx.env)?;
    let exists = path.exists();
    let (live, manual_reason) = if !exists {
        (false, None)
    } else {
        match manager_available(ctx, platform) {
            Ok(()) => (true, None),
            Err(why) => (false, Some(why)),
        }
    };
    let (before, after) = uninstall_commands(platform, &path);
    let mut steps = if exists { run_steps(&before, live) } else { vec![] };
    if exists {
        std::fs::remove_file(&path).map_err(|source| ServiceError::Remove { path: path.clone(), source })?;
        steps.extend(run_steps(&after, live));
        crate::log::write(
            ctx,
            crate::log::Level::Info,
            "service",
            &format!("uninstall {}: removed {}", platform.name(), path.display()),
        );
    }
    Ok(Report { platform, path, changed: exists, steps, manual_reason })
}

/// What `service status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub platform: Platform,
    pub path: PathBuf,
    pub installed: bool,
    /// The file is what `install` would write now (same binary, same environment).
    pub up_to_date: bool,
    /// The manager's word (`active`, `enabled`, …); `None` when not asked.
    pub manager_state: Option<String>,
}

pub fn status(ctx: &Ctx, platform: Platform, spec: &Spec) -> Result<Status, ServiceError> {
    let path = definition_path(platform, &ctx.env)?;
    let current = fsutil::read_optional(&path)?;
    let installed = current.is_some();
    let up_to_date = installed && current.as_deref() == render(platform, spec).ok().as_deref();
    let manager_state = if installed && manager_available(ctx, platform).is_ok() {
        let argv: Vec<String> = match platform {
            Platform::Systemd => strings(&["systemctl", "--user", "is-active", UNIT_NAME]),
            Platform::Launchd => vec!["launchctl".into(), "print".into(), format!("gui/{}/{LABEL}", owner_uid(&path))],
            Platform::TaskScheduler => strings(&["schtasks", "/Query", "/TN", TASK_NAME]),
        };
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        Some(match (platform, run_cmd(&refs)) {
            (Platform::Systemd, StepOutcome::Ok) => "active".to_string(),
            (Platform::Systemd, _) => "inactive".to_string(),
            (_, StepOutcome::Ok) => "loaded".to_string(),
            (_, _) => "not loaded".to_string(),
        })
    } else {
        None
    };
    Ok(Status { platform, path, installed, up_to_date, manager_state })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            exe: PathBuf::from("/opt/my tools/cc-aws-keepalive"),
            env: vec![
                ("HOME".into(), "/home/u".into()),
                ("HTTPS_PROXY".into(), "http://p:8080/100%\"x\"$HOME".into()),
                ("AWS_CONFIG_FILE".into(), "/home/u/a&b<c>.ini".into()),
            ],
            stderr_log: Some(PathBuf::from("/home/u/.local/state/cc-aws-keepalive/daemon.stderr.log")),
        }
    }

    #[test]
    fn systemd_unit_quotes_and_escapes() {
        let u = render(Platform::Systemd, &spec()).unwrap();
        assert!(u.contains("ExecStart=\"/opt/my tools/cc-aws-keepalive\" daemon\n"), "{u}");
        assert!(u.contains("Environment=\"HTTPS_PROXY=http://p:8080/100%%\\\"x\\\"$HOME\"\n"), "{u}");
        assert!(u.contains("WantedBy=default.target"));
        let mut odd = spec();
        odd.exe = PathBuf::from("/x/50%$y/cc");
        let u = render(Platform::Systemd, &odd).unwrap();
        assert!(u.contains("ExecStart=\"/x/50%%$$y/cc\" daemon"), "{u}");
    }

    #[test]
    fn plist_escapes_xml() {
        let p = render(Platform::Launchd, &spec()).unwrap();
        assert!(p.contains("<string>/home/u/a&amp;b&lt;c&gt;.ini</string>"), "{p}");
        assert!(p.contains("<string>io.github.cc-aws-keepalive</string>"));
        assert!(p.contains("<string>daemon</string>"));
        assert!(!p.contains("a&b"));
    }

    #[test]
    fn task_xml_names_the_binary() {
        let t = render(Platform::TaskScheduler, &spec()).unwrap();
        assert!(t.contains("<Command>/opt/my tools/cc-aws-keepalive</Command>"), "{t}");
    }

    #[test]
    fn bad_exe_is_refused_and_control_values_are_dropped() {
        let mut s = spec();
        s.exe = PathBuf::from("/x/a\nb");
        assert!(matches!(render(Platform::Systemd, &s), Err(ServiceError::BadExe { .. })));
        let env = Env::from_pairs([("HOME", "/h"), ("AWS_PROFILE", "a\nb"), ("AWS_CONFIG_FILE", "/c")]);
        let s = Spec::new(&env, Path::new("/bin/x"), Some("/usr/bin"));
        let names: Vec<&str> = s.env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["PATH", "HOME", "AWS_CONFIG_FILE"]);
    }

    #[test]
    fn paths_follow_conventions() {
        let env = Env::from_pairs([("HOME", "/h")]);
        assert_eq!(
            definition_path(Platform::Launchd, &env).unwrap(),
            PathBuf::from("/h/Library/LaunchAgents/io.github.cc-aws-keepalive.plist")
        );
        assert_eq!(
            definition_path(Platform::Systemd, &env).unwrap(),
            PathBuf::from("/h/.config/systemd/user/cc-aws-keepalive.service")
        );
        let env = Env::from_pairs([("HOME", "/h"), ("XDG_CONFIG_HOME", "/x")]);
        assert_eq!(
            definition_path(Platform::Systemd, &env).unwrap(),
            PathBuf::from("/x/systemd/user/cc-aws-keepalive.service")
        );
    }

    #[test]
    fn shown_commands_are_shell_quoted() {
        assert_eq!(
            show(&strings(&["launchctl", "bootstrap", "gui/501", "/a b/c"])),
            "launchctl bootstrap gui/501 '/a b/c'"
        );
    }
}
