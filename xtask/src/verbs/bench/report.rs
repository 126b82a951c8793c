//! The bench's report: per tool, operation and size group, and per class (baseline and
//! progressive JPEG, WebP, PNG); the ratios the targets are stated in (throughput, above 1 means
//! thumbstack is faster), each target with how far it is from met; and the same as Markdown.

use std::collections::BTreeMap;

use serde::Serialize;

use super::coldstart::ColdStart;
use super::deploy::DeployFigures;
use super::e2e::EndToEnd;
use super::photos::{Class, Group, Photo};
use super::tools::{Op, Sample, Skipped, Tool};

#[derive(Serialize)]
pub struct Report {
    pub date: String,
    pub quick: bool,
    pub machine: String,
    pub versions: Vec<(String, String)>,
    pub skipped: Vec<Skipped>,
    pub rows: Vec<Row>,
    pub ratios: Ratios,
    pub peak_rss_mib: PeakRss,
    pub cold_start: ColdStart,
    pub end_to_end: EndToEnd,
    pub deploy: DeployFigures,
    pub targets: Vec<Target>,
    pub samples: Vec<Sample>,
    pub hostile: Vec<Sample>,
}

#[derive(Serialize)]
pub struct Row {
    pub tool: &'static str,
    pub op: Op,
    pub group: Group,
    pub photos: usize,
    pub median_ms_per_image: f64,
    pub megapixels_per_s: f64,
    pub peak_rss_mib: f64,
    pub mean_out_bytes: f64,
    pub mean_ssim: Option<f64>,
}

/// Throughput ratios over the medium and large groups (where the targets are stated).
#[derive(Serialize)]
pub struct Ratios {
    pub thumbnail_vs_sharp: f64,
    pub thumbnail_vs_pillow: f64,
    pub avatar_vs_sharp: f64,
    pub avatar_vs_pillow: f64,
    /// thumbstack's mean SSIM minus sharp's, on the same thumbnails (≥ −0.005 is the target).
    pub thumbnail_ssim_vs_sharp: f64,
    pub by_group: Vec<GroupRatios>,
    /// Thumbnail throughput per class, medium and large photos: `by_class.progressive.sharp`.
    pub by_class: BTreeMap<&'static str, ClassRatios>,
}

#[derive(Serialize)]
pub struct ClassRatios {
    pub photos: usize,
    /// thumbstack's throughput over each peer's, by peer name.
    #[serde(flatten)]
    pub vs: BTreeMap<&'static str, f64>,
    /// Mean thumbnail SSIM by tool, thumbstack's included.
    pub ssim: BTreeMap<&'static str, f64>,
    /// thumbstack's mean SSIM minus the best peer's (≥ −0.005 is the target).
    pub ssim_vs_best_peer: f64,
}

#[derive(Serialize)]
pub struct GroupRatios {
    pub group: Group,
    pub thumbnail_vs_sharp: f64,
    pub thumbnail_vs_pillow: f64,
    pub avatar_vs_sharp: f64,
    pub avatar_vs_pillow: f64,
}

#[derive(Serialize)]
pub struct PeakRss {
    /// thumbstack's core on the largest corpus photo (the larger of thumbnail and avatar).
    pub largest: f64,
    pub largest_photo: String,
    /// thumbstack's core on the hostile file that cost the most memory (each one is refused).
    pub hostile_worst: f64,
    pub hostile_worst_file: String,
}

#[derive(Serialize)]
pub struct Target {
    pub what: String,
    pub value: f64,
    pub target: String,
    pub met: bool,
    /// How far from met, in the target's own unit ("0.62× short", "3.1 over"); empty when met.
    pub short_by: String,
}

impl Target {
    fn at_least(what: impl Into<String>, value: f64, wanted: f64, unit: &str) -> Target {
        let met = value >= wanted;
        let short_by = if met {
            String::new()
        } else {
            format!("{:.3}{unit} short ({:.0} %)", wanted - value, 100.0 * (wanted - value) / wanted.abs().max(1e-9))
        };
        Target { what: what.into(), value, target: format!("≥ {wanted}{unit}"), met, short_by }
    }

    fn at_most(what: impl Into<String>, value: f64, wanted: f64) -> Target {
        let met = value <= wanted;
        let short_by =
            if met { String::new() } else { format!("{:.3} over ({:.0} %)", value - wanted, 100.0 * (value - wanted) / wanted) };
        Target { what: what.into(), value, target: format!("≤ {wanted}"), met, short_by }
    }
}

/// The classes with targets, and each one's wanted throughput over (sharp, Pillow).
const CLASS_TARGETS: [(Class, f64, Option<f64>); 3] =
    [(Class::Baseline, 1.5, Some(1.5)), (Class::Progressive, 3.0, Some(3.0)), (Class::Webp, 1.0, None)];

const RUST: &str = "thumbstack";

impl Report {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        quick: bool,
        tools: &[Tool],
        skipped: Vec<Skipped>,
        photos: &[Photo],
        samples: Vec<Sample>,
        hostile: Vec<Sample>,
        cold_start: ColdStart,
        end_to_end: EndToEnd,
        deploy: DeployFigures,
    ) -> Report {
        let mut rows = Vec::new();
        for op in [Op::Thumbnail, Op::Avatar] {
            for tool in tools {
                for group in [Group::Small, Group::Medium, Group::Large] {
                    let of: Vec<&Sample> =
                        samples.iter().filter(|s| s.tool == tool.name && s.op == op && s.group == group).collect();
                    if !of.is_empty() {
                        rows.push(row(tool.name, op, group, &of));
                    }
                }
            }
        }
        let big = |s: &&Sample| s.group != Group::Small;
        let ratio = |op: Op, peer: &str, keep: &dyn Fn(&&Sample) -> bool| {
            let rate = |tool: &str| throughput(samples.iter().filter(|s| s.tool == tool && s.op == op).filter(keep));
            rate(RUST) / rate(peer)
        };
        let by_group = [Group::Small, Group::Medium, Group::Large]
            .into_iter()
            .map(|g| {
                let keep = move |s: &&Sample| s.group == g;
                GroupRatios {
                    group: g,
                    thumbnail_vs_sharp: ratio(Op::Thumbnail, "sharp", &keep),
                    thumbnail_vs_pillow: ratio(Op::Thumbnail, "pillow", &keep),
                    avatar_vs_sharp: ratio(Op::Avatar, "sharp", &keep),
                    avatar_vs_pillow: ratio(Op::Avatar, "pillow", &keep),
                }
            })
            .collect();
        let peers: Vec<&'static str> = tools.iter().map(|t| t.name).filter(|&n| n != RUST).collect();
        let mut by_class = BTreeMap::new();
        for class in [Class::Baseline, Class::Progressive, Class::Webp, Class::Png] {
            let keep = move |s: &&Sample| s.class == class && s.group != Group::Small;
            let photos = samples.iter().filter(|s| s.tool == RUST && s.op == Op::Thumbnail).filter(keep).count();
            if photos == 0 {
                continue;
            }
            let vs = peers.iter().map(|&p| (p, ratio(Op::Thumbnail, p, &keep))).collect();
            let ssim: BTreeMap<&'static str, f64> = std::iter::once(RUST)
                .chain(peers.iter().copied())
                .map(|t| {
                    (t, mean(samples.iter().filter(|s| s.tool == t && s.op == Op::Thumbnail).filter(keep).filter_map(|s| s.ssim)))
                })
                .collect();
            let best_peer = peers.iter().filter_map(|p| ssim.get(p)).copied().fold(f64::NEG_INFINITY, f64::max);
            let ssim_vs_best_peer = ssim[RUST] - best_peer;
            by_class.insert(class.name(), ClassRatios { photos, vs, ssim, ssim_vs_best_peer });
        }
        let ssim_of = |tool: &str| mean(samples.iter().filter(|s| s.tool == tool && big(s)).filter_map(|s| s.ssim));
        let ratios = Ratios {
            thumbnail_vs_sharp: ratio(Op::Thumbnail, "sharp", &big),
            thumbnail_vs_pillow: ratio(Op::Thumbnail, "pillow", &big),
            avatar_vs_sharp: ratio(Op::Avatar, "sharp", &big),
            avatar_vs_pillow: ratio(Op::Avatar, "pillow", &big),
            thumbnail_ssim_vs_sharp: ssim_of(RUST) - ssim_of("sharp"),
            by_group,
            by_class,
        };
        let largest =
            photos.iter().max_by(|a, b| a.megapixels.total_cmp(&b.megapixels)).map_or(String::new(), |p| p.name.clone());
        let worst = hostile.iter().max_by_key(|s| s.peak_rss_kib);
        let peak_rss_mib = PeakRss {
            largest: mib(samples
                .iter()
                .filter(|s| s.tool == RUST && s.photo == largest)
                .map(|s| s.peak_rss_kib)
                .max()
                .unwrap_or(0)),
            largest_photo: largest,
            hostile_worst: mib(worst.map_or(0, |s| s.peak_rss_kib)),
            hostile_worst_file: worst.map_or(String::new(), |s| s.photo.clone()),
        };
        let largest_zip = cold_start.zip_bytes.iter().map(|(_, b)| *b).max().unwrap_or(0) as f64 / 1e6;
        let mut targets = Vec::new();
        for (class, vs_sharp, vs_pillow) in CLASS_TARGETS {
            let Some(c) = ratios.by_class.get(class.name()) else { continue };
            let name = class.name();
            targets.push(Target::at_least(format!("{name}: thumbnail throughput vs sharp"), c.vs["sharp"], vs_sharp, "×"));
            if let Some(wanted) = vs_pillow {
                targets.push(Target::at_least(format!("{name}: thumbnail throughput vs Pillow"), c.vs["pillow"], wanted, "×"));
            }
            targets.push(Target::at_least(
                format!("{name}: thumbnail SSIM minus the best peer's"),
                c.ssim_vs_best_peer,
                -0.005,
                "",
            ));
        }
        targets.extend([
            Target::at_least("avatar throughput vs sharp (medium+large)", ratios.avatar_vs_sharp, 1.5, "×"),
            Target::at_most("peak RSS on the largest photo, MiB", peak_rss_mib.largest, 64.0),
            Target::at_most("cold-start proxy to first `next`, ms", cold_start.median_ms_to_next, 15.0),
            Target::at_most("largest function zip, MB", largest_zip, 5.0),
            Target::at_most("no-change deploy, s", deploy.xtask_no_change_s, 3.0),
            Target::at_least(
                "no-change deploy vs awscli (their time / ours)",
                deploy.awscli_no_change_s / deploy.xtask_no_change_s,
                1.0,
                "×",
            ),
        ]);
        let mut versions: Vec<(String, String)> = tools.iter().map(|t| (t.name.to_string(), t.version.clone())).collect();
        versions.push(("awscli".into(), deploy.awscli_version.clone()));
        Report {
            date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
            quick,
            machine: machine(),
            versions,
            skipped,
            rows,
            ratios,
            peak_rss_mib,
            cold_start,
            end_to_end,
            deploy,
            targets,
            samples,
            hostile,
        }
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let kind = if self.quick { " (`--quick`: one photo per group, short repeats; a smoke run)" } else { "" };
        md += &format!("Measured {} on {}{kind}.\n\n", self.date, self.machine);
        for (tool, version) in &self.versions {
            md += &format!("- {tool}: {version}\n");
        }
        for s in &self.skipped {
            md += &format!("- {} skipped: {}\n", s.tool, s.why);
        }
        md += "\n| work | group | tool | ms/image | MP/s | peak RSS MiB | output bytes | SSIM |\n|---|---|---|---:|---:|---:|---:|---:|\n";
        for r in &self.rows {
            let ssim = r.mean_ssim.map_or("–".into(), |s| format!("{s:.4}"));
            md += &format!(
                "| {} | {} | {} | {:.1} | {:.1} | {:.0} | {:.0} | {ssim} |\n",
                r.op.name(),
                serde_json::to_value(r.group).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
                r.tool,
                r.median_ms_per_image,
                r.megapixels_per_s,
                r.peak_rss_mib,
                r.mean_out_bytes
            );
        }
        md += "\nThumbnails of the medium and large photos by class (each JPEG and its `jpegtran` twin); \
               the ratio is thumbstack's throughput over the tool's:\n\n\
               | class | photos | tool | ratio | SSIM |\n|---|---:|---|---:|---:|\n";
        for (class, c) in &self.ratios.by_class {
            for (tool, ssim) in &c.ssim {
                let ratio = c.vs.get(tool).map_or("–".into(), |r| format!("{r:.2}×"));
                md += &format!("| {class} | {} | {tool} | {ratio} | {ssim:.4} |\n", c.photos);
            }
        }
        md += "\n| target | measured | wanted | met | short by |\n|---|---:|---|---|---|\n";
        for t in &self.targets {
            let met = if t.met { "yes" } else { "**no**" };
            md += &format!("| {} | {:.3} | {} | {met} | {} |\n", t.what, t.value, t.target, t.short_by);
        }
        md += &format!(
            "\nCold start (proxy): {:.1} ms median to the first `next` over {} starts, {:.1} MiB peak RSS. \
             No-change deploy: {:.2} s (awscli {:.2} s); no-change `package`: {:.2} s. \
             Worst hostile file: {} at {:.1} MiB.\n",
            self.cold_start.median_ms_to_next,
            self.cold_start.runs,
            self.cold_start.peak_rss_mib,
            self.deploy.xtask_no_change_s,
            self.deploy.awscli_no_change_s,
            self.cold_start.package_no_change_s,
            self.peak_rss_mib.hostile_worst_file,
            self.peak_rss_mib.hostile_worst
        );
        md += "\n";
        md += &self.end_to_end.markdown();
        md
    }
}

fn row(tool: &'static str, op: Op, group: Group, of: &[&Sample]) -> Row {
    Row {
        tool,
        op,
        group,
        photos: of.len(),
        median_ms_per_image: of.iter().map(|s| s.median_ms).sum::<f64>() / of.len() as f64,
        megapixels_per_s: throughput(of.iter().copied()),
        peak_rss_mib: mib(of.iter().map(|s| s.peak_rss_kib).max().unwrap_or(0)),
        mean_out_bytes: mean(of.iter().filter_map(|s| s.out_bytes.map(|b| b as f64))),
        mean_ssim: of.iter().any(|s| s.ssim.is_some()).then(|| mean(of.iter().filter_map(|s| s.ssim))),
    }
}

/// Source megapixels per second of work: total pixels over total median time.
fn throughput<'a>(samples: impl Iterator<Item = &'a Sample>) -> f64 {
    let (mp, ms) = samples.fold((0.0, 0.0), |(mp, ms), s| (mp + s.megapixels, ms + s.median_ms));
    if ms == 0.0 { 0.0 } else { mp / (ms / 1e3) }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0u32), |(sum, n), v| (sum + v, n + 1));
    if n == 0 { 0.0 } else { sum / f64::from(n) }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map_or("unknown CPU", |m| m.trim_start_matches([' ', '\t', ':']));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{model}, {cores} cores, one core per tool")
}
