//! `service install|uninstall|status`: files generated in the temp HOME,
//! validated by the real tools when present; the service manager is a fake
//! (or not called at all), so no test ever enables a real service.

use std::os::unix::fs::PermissionsExt;

use test_support::TestHome;

use crate::run;

const UNIT: &str = ".config/systemd/user/cc-aws-keepalive.service";
const PLIST: &str = "Library/LaunchAgents/io.github.cc-aws-keepalive.plist";

#[test]
fn systemd_unit_is_written_verified_and_reinstall_is_idempotent() {
    let home = TestHome::new();
    let out = run(&home, None, &["service", "install"], &[("CC_KEEPALIVE_SERVICE_PLATFORM", "systemd")]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("systemd user unit installed"), "{}", out.stdout);
    // The manager was not called: the commands to run are printed instead.
    assert!(out.stdout.contains("systemctl --user enable --now cc-aws-keepalive.service"), "{}", out.stdout);
    let unit = home.read(UNIT);
    assert!(unit.contains(&format!("ExecStart=\"{}\" daemon\n", crate::bin())), "{unit}");
    assert!(unit.contains(&format!("Environment=\"HOME={}\"", home.path().display())), "{unit}");
    assert!(unit.contains("WantedBy=default.target"));
    let mode = std::fs::metadata(home.join(UNIT)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    if test_support::on_path("systemd-analyze") {
        let v = std::process::Command::new("systemd-analyze").arg("verify").arg(home.join(UNIT)).output().unwrap();
        let stderr = String::from_utf8_lossy(&v.stderr);
        assert!(v.status.success(), "systemd-analyze verify failed: {stderr}\n{unit}");
        assert!(!stderr.contains("cc-aws-keepalive.service"), "systemd-analyze complains: {stderr}\n{unit}");
    }

    let again = run(&home, None, &["service", "install"], &[("CC_KEEPALIVE_SERVICE_PLATFORM", "systemd")]);
    assert_eq!(again.status, Some(0), "{}", again.describe());
    assert!(again.stdout.contains("already up to date"), "{}", again.stdout);
    assert!(!again.stdout.contains("restart"), "unchanged: no restart needed: {}", again.stdout);
    assert_eq!(home.read(UNIT), unit);

    // A changed environment (here the AWS config location) is picked up by a re-install.
    let changed = run(
        &home,
        None,
        &["service", "install"],
        &[("CC_KEEPALIVE_SERVICE_PLATFORM", "systemd"), ("AWS_CONFIG_FILE", "/etc/aws 100%/config")],
    );
    assert!(changed.stdout.contains("installed"), "{}", changed.stdout);
    assert!(home.read(UNIT).contains("Environment=\"AWS_CONFIG_FILE=/etc/aws 100%%/config\""), "{}", home.read(UNIT));

    let st = run(&home, None, &["service", "status"], &[("CC_KEEPALIVE_SERVICE_PLATFORM", "systemd")]);
    assert_eq!(st.status, Some(0), "{}", st.describe());
    assert!(st.stdout.contains("installed, outdated"), "the environment differs from the last install: {}", st.stdout);
    assert!(st.stdout.contains("daemon: not running"), "{}", st.stdout);

    let un = run(&home, None, &["service", "uninstall"], &[("CC_KEEPALIVE_SERVICE_PLATFORM", "systemd")]);
    assert_eq!(un.status, Some(0), "{}", un.describe());
    assert!(!home.join(UNIT).exists());
    assert!(un.stdout.contains("systemctl --user disable --now cc-aws-keepalive.service"), "{}", un.stdout);
    let un = run(&home, None, &["service", "uninstall"], &[("CC_KEEPALIVE_SERVICE_PLATFORM", "systemd")]);
    assert_eq!(un.status, Some(0));
    assert!(un.stdout.contains("nothing to do"), "{}", un.stdout);
    let st = run(&home, None, &["service", "status"], &[("CC_KEEPALIVE_SERVICE_PLATFORM", "systemd")]);
    assert_eq!(st.status, Some(1), "{}", st.describe());
    assert!(st.stdout.contains("not installed"), "{}", st.stdout);
}

#[test]
fn systemctl_is_called_as_documented() {
    if !cfg!(target_os = "linux") {
        return;
    }
    // A fake systemctl first on PATH records its arguments: the real one is never reached.
    let home = TestHome::new();
    let fake = home.write("fakebin/systemctl", "#!/bin/sh\necho \"$*\" >> \"$HOME/systemctl.log\"\nexit 0\n");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", home.join("fakebin").display(), std::env::var("PATH").unwrap_or_default());
    let env = [("PATH", path.as_str()), ("CC_KEEPALIVE_NO_SERVICE_MANAGER", "")];
    let out = run(&home, None, &["service", "install"], &env);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(
        home.read("systemctl.log"),
        "--user show-environment\n--user daemon-reload\n--user enable --now cc-aws-keepalive.service\n--user restart cc-aws-keepalive.service\n"
    );
    assert!(out.stdout.contains("ran: systemctl --user enable --now cc-aws-keepalive.service"), "{}", out.stdout);
    std::fs::remove_file(home.join("systemctl.log")).unwrap();
    let out = run(&home, None, &["service", "install"], &env);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(
        home.read("systemctl.log"),
        "--user show-environment\n--user daemon-reload\n--user enable --now cc-aws-keepalive.service\n",
        "an unchanged unit is not restarted"
    );
    std::fs::remove_file(home.join("systemctl.log")).unwrap();
    let out = run(&home, None, &["service", "uninstall"], &env);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(
        home.read("systemctl.log"),
        "--user show-environment\n--user disable --now cc-aws-keepalive.service\n--user daemon-reload\n"
    );

    // A systemctl that cannot reach a user manager: files are written, commands printed.
    home.write("fakebin/systemctl", "#!/bin/sh\necho 'Failed to connect to bus' >&2\nexit 1\n");
    let out = run(&home, None, &["service", "install"], &env);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("cannot reach a user service manager"), "{}", out.stdout);
    assert!(home.join(UNIT).exists());

    // A manager that fails the enable: exit 1, the failed command named.
    home.write("fakebin/systemctl", "#!/bin/sh\ncase \"$*\" in *enable*) exit 1;; esac\nexit 0\n");
    let out = run(&home, None, &["service", "install"], &env);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stdout.contains("FAILED: systemctl --user enable --now"), "{}", out.stdout);
}

#[test]
fn launchd_plist_is_well_formed() {
    let home = TestHome::new();
    let env = [("CC_KEEPALIVE_SERVICE_PLATFORM", "launchd"), ("AWS_PROFILE", "a&b<c>")];
    let out = run(&home, None, &["service", "install"], &env);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("launchd agent installed"), "{}", out.stdout);
    assert!(out.stdout.contains("launchctl bootstrap gui/"), "{}", out.stdout);
    let plist = home.join(PLIST);
    assert!(plist.exists());
    if test_support::on_path("python3") {
        let script = "import plistlib,sys,json; d=plistlib.load(open(sys.argv[1],'rb')); \
                      print(json.dumps([d['Label'], d['ProgramArguments'], d['EnvironmentVariables']['AWS_PROFILE'], d['RunAtLoad']]))";
        let o = std::process::Command::new("python3").arg("-c").arg(script).arg(&plist).output().unwrap();
        assert!(o.status.success(), "not a valid plist: {}\n{}", String::from_utf8_lossy(&o.stderr), home.read(PLIST));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v, serde_json::json!(["io.github.cc-aws-keepalive", [crate::bin(), "daemon"], "a&b<c>", true]));
    }
    let again = run(&home, None, &["service", "install"], &env);
    assert!(again.stdout.contains("already up to date"), "{}", again.stdout);
    let un = run(&home, None, &["service", "uninstall"], &env);
    assert_eq!(un.status, Some(0), "{}", un.describe());
    assert!(!plist.exists());
}
