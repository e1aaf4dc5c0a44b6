//! `report --format html` in a real headless Chromium: the charts are in
//! the DOM with the report's numbers, the page logs nothing to the console
//! (no script error, no Content-Security-Policy violation), screenshots in
//! light and dark mode are not blank, nothing overflows a phone's width,
//! the filters work from a `file://` URL, and hostile service names stay
//! text.
//!
//! Chromium is `DORAMETER_TEST_CHROMIUM`, else `chromium` (or
//! `chromium-browser`, `google-chrome`) on `PATH`. Absent, every test here
//! says SKIPPED on stderr and passes, unless `DORAMETER_REQUIRE_CHROMIUM=1`
//! (CI), where it fails. `DORAMETER_TEST_SCREENSHOTS=DIR` keeps the
//! screenshots there for a human to look at.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::series::{Scripted, scripted};
use crate::util::*;

/// The page budget (SPEC §9: one self-contained page).
const MAX_PAGE: usize = 300 * 1024;
/// A service name that would run a script if it were not escaped.
const HOSTILE: &str = "<img src=x onerror=\"document.title='pwned'\">";

/// The Chromium binary, or `None` (after saying so loudly: written to the
/// process's stderr, past the test harness's capture, so `cargo test`
/// shows it).
fn chromium() -> Option<PathBuf> {
    let given = std::env::var_os("DORAMETER_TEST_CHROMIUM").map(PathBuf::from);
    let found = given.or_else(|| {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .flat_map(|d| {
                ["chromium", "chromium-browser", "google-chrome"].map(|name| d.join(name))
            })
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("DORAMETER_REQUIRE_CHROMIUM").as_deref() != Ok("1"),
            "DORAMETER_REQUIRE_CHROMIUM=1 but no chromium on PATH: apt-get install -y chromium, or set DORAMETER_TEST_CHROMIUM"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: chromium not found (apt-get install -y chromium, or set DORAMETER_TEST_CHROMIUM); \
             the dashboard's browser tests did not run"
        );
    }
    found
}

/// One headless Chromium run's output.
struct Run {
    stdout: String,
    stderr: String,
}

impl Run {
    /// Lines where the page wrote to the console (script errors and CSP
    /// violations are console messages too); the page writes none.
    fn console(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
            .collect()
    }

    #[track_caller]
    fn assert_quiet(&self, what: &str) {
        assert!(
            self.console().is_empty(),
            "{what}: the page wrote to the console:\n{}",
            self.console().join("\n")
        );
    }
}

struct Browser {
    bin: PathBuf,
    dir: TempDir,
    runs: usize,
}

impl Browser {
    fn new(bin: PathBuf) -> Browser {
        Browser {
            bin,
            dir: tempfile::tempdir().expect("tempdir"),
            runs: 0,
        }
    }

    /// Chromium on `url` with `args`, in a fresh profile, killed after 90 s.
    fn run(&mut self, url: &str, args: &[&str]) -> Run {
        self.runs += 1;
        let base = self.dir.path().join(format!("run-{}", self.runs));
        std::fs::create_dir_all(base.join("profile")).expect("profile dir");
        let (out, err) = (base.join("stdout"), base.join("stderr"));
        let mut child = Command::new(&self.bin)
            .env("HOME", &base)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!(
                "--user-data-dir={}",
                base.join("profile").display()
            ))
            .args(args)
            .arg(url)
            .stdin(Stdio::null())
            .stdout(File::create(&out).expect("stdout file"))
            .stderr(File::create(&err).expect("stderr file"))
            .spawn()
            .expect("start chromium");
        let limit = Duration::from_secs(90);
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for chromium") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "chromium {args:?} took more than {limit:?}: {}",
                    std::fs::read_to_string(&err).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let run = Run {
            stdout: std::fs::read_to_string(&out).expect("chromium stdout"),
            stderr: std::fs::read_to_string(&err).expect("chromium stderr"),
        };
        assert!(
            status.success(),
            "chromium {args:?}: {status}\n{}",
            run.stderr
        );
        run
    }

    /// The DOM after the page's script ran, in a window of `size`.
    fn dom(&mut self, url: &str, size: &str, extra: &[&str]) -> Run {
        let size = format!("--window-size={size}");
        let mut args = vec!["--dump-dom", size.as_str()];
        args.extend_from_slice(extra);
        let run = self.run(url, &args);
        assert!(
            run.stdout.contains("</html>"),
            "no DOM from chromium: {}",
            run.stderr
        );
        run
    }

    /// A screenshot of a window of `size`, decoded, kept in
    /// `DORAMETER_TEST_SCREENSHOTS` when set.
    fn screenshot(&mut self, url: &str, size: &str, name: &str, extra: &[&str]) -> (Image, Run) {
        let png = self.dir.path().join(name);
        let shot = format!("--screenshot={}", png.display());
        let size = format!("--window-size={size}");
        let mut args = vec![shot.as_str(), size.as_str()];
        args.extend_from_slice(extra);
        let run = self.run(url, &args);
        if let Some(keep) = std::env::var_os("DORAMETER_TEST_SCREENSHOTS") {
            std::fs::create_dir_all(&keep).expect("screenshot dir");
            std::fs::copy(&png, Path::new(&keep).join(name)).expect("keep the screenshot");
        }
        (Image::read(&png), run)
    }
}

/// A decoded screenshot, as RGB.
struct Image {
    width: u32,
    height: u32,
    rgb: Vec<[u8; 3]>,
}

impl Image {
    fn read(path: &Path) -> Image {
        let file = std::io::BufReader::new(File::open(path).expect("the screenshot exists"));
        let mut reader = png::Decoder::new(file).read_info().expect("a PNG");
        let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut buf).expect("a PNG frame");
        let channels = info.line_size / info.width as usize;
        assert!(
            info.bit_depth == png::BitDepth::Eight && (channels == 3 || channels == 4),
            "unexpected PNG format {:?} {:?}",
            info.color_type,
            info.bit_depth
        );
        let rgb = buf[..info.line_size * info.height as usize]
            .chunks_exact(channels)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Image {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    fn at(&self, x: u32, y: u32) -> [u8; 3] {
        self.rgb[(y * self.width + x) as usize]
    }

    fn colours(&self) -> usize {
        let set: std::collections::HashSet<[u8; 3]> = self.rgb.iter().copied().collect();
        set.len()
    }

    /// Pixels of exactly `hex` (CSS `#rrggbb`).
    fn count(&self, hex: &str) -> usize {
        let c = rgb(hex);
        self.rgb.iter().filter(|p| **p == c).count()
    }
}

fn rgb(hex: &str) -> [u8; 3] {
    let v = u32::from_str_radix(hex.trim_start_matches('#'), 16).expect("hex colour");
    [(v >> 16) as u8, (v >> 8) as u8, v as u8]
}

/// The scripted world, a hostile service, and the page of its window.
struct Page {
    world: Scripted,
    path: PathBuf,
    html: String,
}

impl Page {
    fn url(&self, fragment: &str) -> String {
        format!("file://{}{fragment}", self.path.display())
    }
}

fn page() -> Page {
    let world = scripted();
    let dm = &world.dm;
    let sha = world.repo.head();
    let t = rfc(at(20, 9, 0));
    dm.json(&[
        "deploy",
        "--repo",
        &world.repo.path.display().to_string(),
        "--service",
        HOSTILE,
        "--env",
        "'\"><script>document.title='pwned'</script>",
        "--sha",
        &sha,
        "--finished-at",
        &t,
    ]);
    let (since, until) = (rfc(world.since), rfc(world.until));
    let out = dm
        .raw_command(&[
            "--store",
            &dm.store_url(),
            "--format",
            "html",
            "report",
            "--since",
            &since,
            "--until",
            &until,
        ])
        .output()
        .expect("run dorameter");
    assert!(
        out.status.success(),
        "report --format html: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = String::from_utf8(out.stdout).expect("UTF-8 HTML");
    let path = dm.dir.path().join("dashboard.html");
    std::fs::write(&path, &html).expect("write the page");
    Page { world, path, html }
}

/// One `<section class="svc">` of a dumped DOM.
struct Section<'a> {
    service: String,
    env: String,
    hidden: bool,
    html: &'a str,
}

impl Section<'_> {
    /// The `n`th chart's `<svg>`: deployments, lead time, change failure
    /// rate, time to restore.
    fn chart(&self, n: usize) -> &str {
        let svg = self
            .html
            .split("<svg class=\"chart\"")
            .nth(n + 1)
            .expect("the chart");
        &svg[..svg.find("</svg>").expect("svg end")]
    }
}

/// The sections of a dumped DOM. Chromium serializes attribute values
/// with `&` and `"` escaped only: names are decoded back here.
fn sections(dom: &str) -> Vec<Section<'_>> {
    let decode = |s: &str| {
        s.replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    };
    dom.split("<section class=\"svc\"")
        .skip(1)
        .map(|s| {
            let attr = |name: &str| {
                let from = s.find(&format!(" {name}=\"")).expect("attribute") + name.len() + 3;
                decode(&s[from..from + s[from..].find('"').expect("quote")])
            };
            // aria-labelledby (no user text) comes last but for `hidden`.
            let label = s.find(" aria-labelledby=\"").expect("aria-labelledby") + 18;
            let after = &s[label + s[label..].find('"').expect("quote") + 1..];
            Section {
                service: attr("data-service"),
                env: attr("data-env"),
                hidden: after.starts_with(" hidden"),
                html: &s[..s.find("</section>").expect("section end")],
            }
        })
        .collect()
}

/// How a metric's value reads on the page, computed from the JSON here.
fn shown(metric: &Value) -> String {
    let Some(v) = metric["value"].as_f64() else {
        return "no data".into();
    };
    match metric["unit"].as_str().expect("unit") {
        "per_day" => format!("{v:.2}/day"),
        "percent" => format!("{v:.2}%"),
        "seconds" if v < 60.0 => format!("{v:.0}s"),
        "seconds" if v < 3600.0 => format!("{:.1}m", v / 60.0),
        "seconds" if v < 86_400.0 => format!("{:.1}h", v / 3600.0),
        "seconds" => format!("{:.1}d", v / 86_400.0),
        u => panic!("unit {u}"),
    }
}

/// The `data-NAME` attribute of the root element in a dumped DOM.
fn root_data<'a>(dom: &'a str, name: &str) -> &'a str {
    let html_tag = &dom[dom.find("<html").expect("<html")..];
    let html_tag = &html_tag[..html_tag.find('>').expect("tag end")];
    let key = format!("data-{name}=\"");
    let from = html_tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {key} on {html_tag}"))
        + key.len();
    &html_tag[from..from + html_tag[from..].find('"').expect("quote")]
}

/// Each section of `found` shows its report's numbers and levels (`report
/// --format json` of the same window), and its four charts.
#[track_caller]
fn assert_sections_show(found: &[Section<'_>], reports: &Value) {
    let reports = reports.as_array().expect("reports");
    assert_eq!(found.len(), reports.len(), "one section per report");
    for r in reports {
        let (service, env) = (r["service"].as_str().unwrap(), r["env"].as_str().unwrap());
        let section = found
            .iter()
            .find(|s| s.service == service && s.env == env)
            .unwrap_or_else(|| panic!("no section for {service} {env}"));
        let html = section.html;
        for key in [
            "deployment_frequency",
            "lead_time_for_changes",
            "change_failure_rate",
            "time_to_restore",
            "failed_deployment_recovery_time",
            "rework_rate",
        ] {
            let m = &r["metrics"][key];
            let card = &html[html
                .find(&format!("data-metric=\"{key}\""))
                .unwrap_or_else(|| panic!("no {key} card for {service}"))..];
            let card = &card[..card.find("</li>").expect("card end")];
            assert!(
                card.contains(&format!("<p class=\"v\">{}</p>", shown(m))),
                "{service} {env} {key}: expected {} in {card}",
                shown(m)
            );
            let level = match (m["value"].is_null(), m["level"].as_str()) {
                (true, _) => "no data",
                (false, Some(l)) => l,
                (false, None) => "not banded",
            };
            assert!(
                card.contains(&format!("<span class=\"badge\">{level}</span>")),
                "{service} {env} {key}: level {level} in {card}"
            );
        }
        assert_eq!(
            html.matches("<svg class=\"chart\"").count(),
            4,
            "{service} {env}"
        );
        assert_eq!(html.matches("role=\"img\"").count(), 4, "{service} {env}");
        assert_eq!(html.matches("<title id=").count(), 4, "{service} {env}");
    }
}

#[test]
fn the_dashboard_renders_its_numbers_and_charts_in_chromium() {
    let Some(bin) = chromium() else { return };
    let page = page();
    assert!(
        page.html.len() < MAX_PAGE,
        "the page is {} bytes, over the {MAX_PAGE} budget",
        page.html.len()
    );
    let mut browser = Browser::new(bin);

    // (a) The DOM after the script: the numbers of `report --format json`
    // for the same window in each section's cards, and the charts.
    let run = browser.dom(&page.url(""), "1200,2000", &[]);
    run.assert_quiet("desktop DOM");
    let dom = &run.stdout;
    assert!(
        dom.contains("<title>DORA metrics · dorameter</title>"),
        "the hostile names ran as code: {dom}"
    );
    // Their text is shown, escaped, and no element came of it.
    assert!(
        dom.contains(">&lt;img src=x onerror=\"document.title='pwned'\"&gt;</option>"),
        "{dom}"
    );
    assert!(
        !dom.contains("<img src=\"x\"") && !dom.contains("<script>document"),
        "{dom}"
    );
    assert_eq!(root_data(dom, "shown"), "4", "every section shown");
    assert_eq!(root_data(dom, "overflow"), "no");
    let found = sections(dom);
    assert_sections_show(&found, &page.world.report_all());
    // api in production: a bar per week (6 weeks, the first and last
    // partial), failed parts in three of them, lines for lead time.
    let api = found
        .iter()
        .find(|s| s.service == "api" && s.env == "production")
        .expect("api production");
    let bars = api.chart(0);
    assert_eq!(bars.matches("<g class=\"b\">").count(), 4, "{bars}");
    assert_eq!(bars.matches("<g class=\"b p\">").count(), 2, "{bars}");
    let with_failed = bars
        .split("<g class=\"b")
        .skip(1)
        .filter(|g| g[..g.find("</g>").expect("group end")].contains("<rect class=\"f\""))
        .count();
    assert_eq!(with_failed, 3, "{bars}");
    let lead = api.chart(1);
    assert!(lead.contains("<path d=\"M"), "{lead}");
    assert!(
        lead.contains("p50: 03-01 no data;"),
        "the first week has no lead time: {lead}"
    );
    // Nothing to fetch: no src or href attribute anywhere.
    assert!(!dom.contains(" src=\"") && !dom.contains(" href="), "{dom}");

    // The console check sees what it must: a script changed after the
    // page was written no longer matches the policy's hash, and Chromium
    // says so on the console.
    let tampered = page.path.with_file_name("tampered.html");
    std::fs::write(
        &tampered,
        page.html
            .replacen("\"use strict\";", "\"use strict\";1;", 1),
    )
    .expect("write");
    let run = browser.dom(&format!("file://{}", tampered.display()), "1200,1000", &[]);
    assert!(
        run.console()
            .iter()
            .any(|l| l.contains("Content Security Policy")),
        "a blocked script must show on the console: {}",
        run.stderr
    );

    // (b) Screenshots: light and dark, each with its own background and
    // its bars' colour, many colours (charts, text), none blank.
    let (light, run) = browser.screenshot(&page.url(""), "1200,2000", "light.png", &[]);
    run.assert_quiet("light screenshot");
    assert_eq!((light.width, light.height), (1200, 2000));
    assert_eq!(light.at(2, 2), rgb("#f6f8fa"), "light background");
    assert!(
        light.colours() > 200,
        "a nearly blank page: {} colours",
        light.colours()
    );
    assert!(
        light.count("#0969da") > 500,
        "no bars in the light page's colour"
    );
    assert!(light.count("#cf222e") > 100, "no failed deployments drawn");
    let (dark, run) = browser.screenshot(
        &page.url(""),
        "1200,2000",
        "dark.png",
        &["--force-dark-mode"],
    );
    run.assert_quiet("dark screenshot");
    assert_eq!(dark.at(2, 2), rgb("#0d1117"), "dark background");
    assert!(
        dark.colours() > 200,
        "a nearly blank dark page: {} colours",
        dark.colours()
    );
    assert!(
        dark.count("#4493f8") > 500,
        "no bars in the dark page's colour"
    );
}

#[test]
fn the_dashboard_filters_from_a_file_url_and_fits_a_phone() {
    let Some(bin) = chromium() else { return };
    let page = page();
    let mut browser = Browser::new(bin);

    // The filter lives in the fragment: it works from file:// with no
    // request. An unknown name leaves "all".
    for (fragment, shown, visible) in [
        ("#service=web", "1", vec![("web", "production")]),
        ("#env=staging", "1", vec![("api", "staging")]),
        (
            "#service=api",
            "2",
            vec![("api", "production"), ("api", "staging")],
        ),
        ("#service=api&env=staging", "1", vec![("api", "staging")]),
        ("#service=nope", "4", vec![]),
    ] {
        let run = browser.dom(&page.url(fragment), "1200,1000", &[]);
        run.assert_quiet(fragment);
        assert_eq!(root_data(&run.stdout, "shown"), shown, "{fragment}");
        let found = sections(&run.stdout);
        assert_eq!(found.len(), 4);
        for s in found {
            let want =
                visible.is_empty() || visible.contains(&(s.service.as_str(), s.env.as_str()));
            assert_eq!(!s.hidden, want, "{fragment}: {} {}", s.service, s.env);
        }
    }

    // A phone: nothing wider than the screen. Headless windows are at
    // least 500 px wide, so the page runs in an iframe of the phone's width
    // (file:// pages may read each other with --allow-file-access-from-files)
    // and the frame reports what the page's overflow hook saw.
    for (width, height) in [(390, 844), (360, 740), (320, 568)] {
        let seen = overflow_in_frame(&mut browser, &page.path, width, height);
        assert_eq!(
            seen,
            format!("no {width} {width}"),
            "horizontal scroll at {width} px (hook, scrollWidth, clientWidth)"
        );
    }
    let (phone, run) = browser.screenshot(&page.url(""), "390,844", "phone.png", &[]);
    run.assert_quiet("phone screenshot");
    assert_eq!((phone.width, phone.height), (390, 844));
    assert!(
        phone.colours() > 100,
        "a nearly blank phone page: {} colours",
        phone.colours()
    );
    // The hook itself: a page made wider than the frame (a line that
    // cannot wrap) says so.
    let wide = page.path.with_file_name("wide.html");
    let line = format!("<main><pre>{}</pre>", "x".repeat(400));
    std::fs::write(&wide, page.html.replacen("<main>", &line, 1)).expect("write");
    let seen = overflow_in_frame(&mut browser, &wide, 390, 844);
    assert!(
        seen.starts_with("yes "),
        "the hook must see overflow: {seen}"
    );
}

/// `page` in an iframe of `width` × `height`: its overflow hook's value,
/// its root's scrollWidth and clientWidth.
fn overflow_in_frame(browser: &mut Browser, page: &Path, width: u32, height: u32) -> String {
    let name = page.file_name().expect("file name").to_string_lossy();
    let frame = page.with_file_name(format!("frame-{width}-{name}"));
    std::fs::write(
        &frame,
        format!(
            "<!doctype html><html><body><script>\
             function seen(f) {{ var r = f.contentDocument.documentElement; \
             document.body.dataset.seen = r.dataset.overflow + ' ' + r.scrollWidth + ' ' + r.clientWidth; }}\
             </script><iframe src=\"{name}\" width=\"{width}\" height=\"{height}\" onload=\"seen(this)\"></iframe></body></html>"
        ),
    )
    .expect("write the frame");
    let run = browser.dom(
        &format!("file://{}", frame.display()),
        "1200,1000",
        &["--allow-file-access-from-files"],
    );
    let dom = &run.stdout;
    let key = "data-seen=\"";
    let from = dom
        .find(key)
        .unwrap_or_else(|| panic!("the frame did not report: {dom}\n{}", run.stderr))
        + key.len();
    dom[from..from + dom[from..].find('"').expect("quote")].to_string()
}

/// `html` is `report`'s alone: every other command refuses an explicit
/// `--format html` (exit 2, naming the formats it prints), and falls back
/// to its default when the format comes from the config file (SPEC §4).
#[test]
fn other_commands_refuse_an_html_flag_and_ignore_an_html_config() {
    let dm = Dm::default();
    for (args, accepted) in [
        (
            vec!["deploy", "--service", "api", "--sha", "HEAD"],
            "table, json or markdown",
        ),
        (
            vec!["incident", "open", "--id", "x", "--service", "api"],
            "table, json or markdown",
        ),
        (
            vec!["junit", "x.xml", "--service", "api"],
            "table, json or markdown",
        ),
        (
            vec!["backfill", "--from-tags", "v*"],
            "table, json or markdown",
        ),
        (vec!["flaky", "--service", "api"], "table, json or markdown"),
        (vec!["comment", "--service", "api"], "json or markdown"),
        (vec!["flush"], "table or json"),
        (
            vec![
                "store",
                "copy",
                "--from",
                "sqlite:a.db",
                "--to",
                "sqlite:b.db",
            ],
            "table or json",
        ),
        (vec!["demo", "demo-dir"], "table or json"),
    ] {
        let store = dm.store_url();
        let mut all = vec!["--store", store.as_str(), "--format", "html"];
        all.extend(&args);
        let run = dm.run_raw(&all);
        run.assert_usage_error("--format html is not available");
        assert!(run.stderr.contains(accepted), "{args:?}: {run:#?}");
    }
    std::fs::write(dm.cwd().join(".dorameter.toml"), "format = \"html\"\n").expect("config");
    let run = dm.run_raw(&["--store", &dm.store_url(), "flush"]);
    run.assert_ok();
    assert!(
        !run.stdout.contains("<html") && !run.stdout.is_empty(),
        "{run:#?}"
    );
    // report takes it from the config file.
    let run = dm.run_raw(&["--store", &dm.store_url(), "report"]);
    run.assert_ok();
    assert!(run.stdout.starts_with("<!doctype html>"), "{run:#?}");
    assert!(
        run.stdout
            .contains("No deployments or incidents recorded in"),
        "{run:#?}"
    );
}

/// The dashboard `serve` answers at `/` for the same window (named by
/// dates): the numbers of `report --format json`, the charts drawn, the
/// console quiet under the server's own Content-Security-Policy header, a
/// screenshot that is not blank, within the page budget.
#[test]
fn the_served_dashboard_renders_in_chromium() {
    let Some(bin) = chromium() else { return };
    let page = page();
    let dm = &page.world.dm;
    let store = dm.store_url();
    let srv = crate::serve::Serving::start(
        dm,
        dm.dir.path(),
        &[],
        &["--store", &store, "--no-access-log"],
    );
    let path = format!(
        "/?timeRange=custom&startDate={}&endDate={}",
        rfc(page.world.since),
        rfc(page.world.until)
    );
    let answer = srv.get(&path, None);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.body.len() < MAX_PAGE,
        "the served page is {} bytes, over the {MAX_PAGE} budget",
        answer.body.len()
    );
    let csp = answer
        .header("content-security-policy")
        .expect("a Content-Security-Policy header");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");

    let url = format!("http://{}{path}", srv.addr);
    let mut browser = Browser::new(bin);
    let run = browser.dom(&url, "1200,2000", &[]);
    run.assert_quiet("served DOM");
    let dom = &run.stdout;
    assert!(
        dom.contains("<title>DORA metrics · dorameter</title>"),
        "the hostile names ran as code: {dom}"
    );
    assert_eq!(root_data(dom, "shown"), "4", "every section shown");
    let found = sections(dom);
    assert_sections_show(&found, &page.world.report_all());
    // Nothing fetched from anywhere, the server included.
    assert!(!dom.contains(" src=\"") && !dom.contains(" href="), "{dom}");
    // The store's address is the operator's: readers see its kind.
    let path = dm.dir.path().display().to_string();
    assert!(!dom.contains(&path), "the store's path is shown: {dom}");
    assert!(dom.contains("the server's sqlite store"), "{dom}");

    // A filter in the query selects its section.
    let run = browser.dom(
        &format!("{url}&service=api&env=production"),
        "1200,2000",
        &[],
    );
    run.assert_quiet("filtered DOM");
    let shown: Vec<_> = sections(&run.stdout)
        .into_iter()
        .filter(|s| !s.hidden)
        .map(|s| (s.service, s.env))
        .collect();
    assert_eq!(shown, [("api".to_string(), "production".to_string())]);

    let (light, run) = browser.screenshot(&url, "1200,2000", "served.png", &[]);
    run.assert_quiet("served screenshot");
    assert_eq!(light.at(2, 2), rgb("#f6f8fa"), "light background");
    assert!(
        light.colours() > 200,
        "a nearly blank page: {} colours",
        light.colours()
    );
    assert!(light.count("#0969da") > 500, "no bars drawn");
    assert!(light.count("#cf222e") > 100, "no failed deployments drawn");
}
