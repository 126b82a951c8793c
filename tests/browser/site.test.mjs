// The site in headless Chromium against `cargo xtask local` (THUMBSTACK_URL): upload a photo and
// see its thumbnail in the gallery; upload a text file named .jpg and see it under failures with
// a reason; upload an avatar and see a 512x512 picture on the profile; the 5-smallest rows in
// ascending size; no console errors. Screenshots go to SCREENSHOTS. Exit code 0 means all passed.
import { createRequire } from "node:module";
import path from "node:path";

const { chromium } = createRequire(path.join(process.env.BROWSER_TOOLS, "package.json"))("playwright-core");
const base = process.env.THUMBSTACK_URL;
const shots = process.env.SCREENSHOTS;
const corpus = path.join(import.meta.dirname, "../corpus");
const photo = path.join(corpus, "photos/s2_greenmeadow_1280x1024.jpg");
const text = path.join(corpus, "hostile/text.jpg");
const long = { timeout: 90_000 };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const errors = [];
let failed = false;
const check = (ok, what) => { console.log(`${ok ? "ok  " : "FAIL"} ${what}`); if (!ok) failed = true; };
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(e.message));

  await page.goto(`${base}/#upload`);
  await page.setInputFiles("#files", photo);
  await page.waitForSelector(".uploads li .ok img", long);
  await page.screenshot({ path: `${shots}/upload.png`, fullPage: true });
  check(true, "a photo uploaded from the page shows its thumbnail");

  await page.goto(`${base}/#gallery`);
  const thumb = await page.waitForSelector('#gallery-items img[alt="s2_greenmeadow_1280x1024.jpg"]', long);
  await page.waitForFunction((img) => img.complete && img.naturalWidth > 0, thumb, long);
  check(await thumb.evaluate((img) => Math.max(img.naturalWidth, img.naturalHeight) === 256), "the gallery shows the 256 px thumbnail");
  await page.screenshot({ path: `${shots}/gallery.png`, fullPage: true });

  await page.goto(`${base}/#upload`);
  await page.setInputFiles("#files", text);
  const rejected = await page.waitForSelector(".uploads li .bad", long);
  const reason = await rejected.textContent();
  check(reason.startsWith("rejected: ") && reason.length > 12, `a text file named .jpg is rejected with a reason (${reason})`);

  await page.goto(`${base}/#failures`);
  await page.waitForSelector('#failure-rows td:text-is("text.jpg")', long);
  check(true, "the failures view lists it");
  await page.screenshot({ path: `${shots}/failures.png`, fullPage: true });

  await page.goto(`${base}/#profile`);
  await page.setInputFiles("#avatar-file", photo);
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("new avatar is in place"), null, long);
  await page.waitForFunction(() => { const i = document.getElementById("avatar"); return i.complete && i.naturalWidth === 512 && i.src.includes("/avatars/"); }, null, long);
  check(await page.$eval("#avatar", (i) => i.naturalHeight === 512), "the profile shows the new 512x512 avatar without a reload");
  await page.screenshot({ path: `${shots}/profile.png`, fullPage: true });

  await page.goto(`${base}/#smallest`);
  await page.waitForSelector("#smallest-rows tr", long);
  const sizes = await page.$$eval("#smallest-rows tr", (rows) => rows.map((r) => Number(r.dataset.size)));
  const ascending = sizes.every((s, i) => i === 0 || sizes[i - 1] <= s);
  check(sizes.length >= 3 && ascending && sizes[0] < sizes[sizes.length - 1], `the 5 smallest are in ascending size (${sizes})`);
  check((await page.$$eval("#smallest-rows tr:first-child td", (c) => c.length)) === 6, "each row shows every catalog field");
  await page.screenshot({ path: `${shots}/smallest.png`, fullPage: true });

  const fresh = await browser.newPage();
  await fresh.goto(`${base}/#gallery`);
  for (let i = 0; i < 3; i++) await fresh.keyboard.press("Tab"); // site name, Gallery, 5 smallest
  await fresh.keyboard.press("Enter");
  check(await fresh.waitForFunction(() => location.hash === "#smallest" && !document.getElementById("smallest").hidden).then(() => true, () => false),
    "the keyboard alone moves between sections");
  const unlabeled = await page.$$eval("input, textarea", (els) => els.filter((e) => !e.labels?.length).map((e) => e.id));
  check(unlabeled.length === 0, `every field has a label (${unlabeled})`);
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const filled = { gallery: "#gallery-items li img", smallest: "#smallest-rows tr", upload: "#drop", profile: "#profile-form" };
  for (const [view, selector] of Object.entries(filled)) {
    await phone.goto(`${base}/#${view}`);
    await phone.waitForSelector(selector, long);
    await phone.waitForLoadState("networkidle");
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `#${view} fits a phone's width (overflow ${overflow} px)`);
    await phone.screenshot({ path: `${shots}/phone-${view}.png`, fullPage: true });
  }
  check(errors.length === 0, `no console errors (${errors.join(" | ")})`);
} catch (e) {
  console.log(`FAIL ${e.message}`);
  failed = true;
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
