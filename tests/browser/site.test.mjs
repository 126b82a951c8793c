// The site in headless Chromium against `cargo xtask local` (THUMBSTACK_URL): signed out, the
// views that need an account offer sign-in; sign up through the sign-in page (the code flow with
// PKCE), stay signed in across a reload; upload a photo and see it in "my photos" and the gallery;
// upload a text file named .jpg and see it under failures with a reason; upload an avatar and see
// a 512x512 picture at a new URL on the profile, then remove it; the 5-smallest rows in ascending size; sign out;
// sign up as a second user, who sees none of the first user's photos, then deletes the account and
// cannot sign in with it again; no console errors.
// Screenshots go to SCREENSHOTS. Exit code 0 means all passed.
import { createRequire } from "node:module";
import path from "node:path";

const { chromium } = createRequire(path.join(process.env.BROWSER_TOOLS, "package.json"))("playwright-core");
const base = process.env.THUMBSTACK_URL;
const shots = process.env.SCREENSHOTS;
const corpus = path.join(import.meta.dirname, "../corpus");
const photo = path.join(corpus, "photos/s2_greenmeadow_1280x1024.jpg");
const secret = path.join(corpus, "photos/m1_eveningglow_2560x1600.jpg");
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
  page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
  page.on("dialog", (d) => d.accept());
  const signedOutOffers = async (view) => {
    await page.goto(`${base}/#${view}`);
    const offer = await page.waitForSelector(`#${view} .signed-out button.sign-in`, { state: "visible", ...long });
    return offer !== null && (await page.$eval(`#${view} .signed-in`, (e) => e.hidden));
  };
  // Sign-in or sign-up on the sign-in page (Cognito's hosted UI on AWS, the local stand-in here).
  const signIn = async (email, action) => {
    await page.click("#sign-in-button");
    await page.waitForSelector("#email", long);
    await page.fill("#email", email);
    await page.fill("#password", password);
    await page.click(action === "sign-up" ? "#sign-up" : "#sign-in");
    await page.waitForFunction((e) => document.getElementById("who")?.textContent.includes(e), email, long);
  };
  const password = "Browser-Test-Passw0rd";
  const first = `first-${Date.now()}@example.com`;
  const second = `second-${Date.now()}@example.com`;

  check(await signedOutOffers("upload"), "signed out, Upload offers sign-in instead of failing");
  await page.screenshot({ path: `${shots}/signed-out.png`, fullPage: true });
  check(await signedOutOffers("profile"), "signed out, Profile offers sign-in");

  await page.goto(`${base}/#upload`);
  await signIn(first, "sign-up");
  check((await page.evaluate(() => location.hash)) === "#upload" && !(await page.evaluate(() => location.search)),
    "signing up comes back to the view it started from, the code gone from the address");
  check(await page.evaluate(() => !JSON.stringify(localStorage).includes("eyJ")), "no token in localStorage");
  await page.reload();
  await page.waitForFunction((e) => document.getElementById("who")?.textContent.includes(e), first, long);
  check(true, "a reload stays signed in (the refresh token renews the access token)");

  await page.setInputFiles("#files", photo);
  await page.waitForSelector(".uploads li .ok img", long);
  await page.screenshot({ path: `${shots}/upload.png`, fullPage: true });
  check(true, "a photo uploaded from the page shows its thumbnail");

  await page.goto(`${base}/#mine`);
  await page.waitForSelector('#mine-items img[alt="s2_greenmeadow_1280x1024.jpg"]', long);
  check(await page.$eval("#mine-items a", (a) => a.href.includes("X-Amz-Signature")), "my photos link the original");
  await page.screenshot({ path: `${shots}/mine.png`, fullPage: true });

  await page.goto(`${base}/#gallery`);
  const thumb = await page.waitForSelector('#gallery-items img[alt="s2_greenmeadow_1280x1024.jpg"]', long);
  await page.waitForFunction((img) => img.complete && img.naturalWidth > 0, thumb, long);
  check(await thumb.evaluate((img) => Math.max(img.naturalWidth, img.naturalHeight) === 256), "the gallery shows the 256 px thumbnail");
  check((await page.$$("#gallery-items a")).length === 0, "the public gallery links no original");
  await page.screenshot({ path: `${shots}/gallery.png`, fullPage: true });

  // Private: "my photos" shows it through its presigned link; the gallery never lists it.
  await page.goto(`${base}/#upload`);
  await page.check('input[name="visibility"][value="private"]');
  await page.setInputFiles("#files", secret);
  await page.waitForSelector('.uploads li:first-child .ok img', long);
  await page.goto(`${base}/#mine`);
  const mine = await page.waitForSelector('#mine-items img[alt="m1_eveningglow_2560x1600.jpg"]', long);
  await page.waitForFunction((img) => img.complete && img.naturalWidth > 0, mine, long);
  check(await mine.evaluate((img) => img.src.includes("/private/") && img.src.includes("X-Amz-Signature")),
    "my photos show a private photo's thumbnail through a presigned link");
  const privateId = await mine.evaluate((img) => img.closest("li").dataset.id);
  const publicId = await page.$eval('#mine-items img[alt="s2_greenmeadow_1280x1024.jpg"]', (img) => img.closest("li").dataset.id);
  await page.goto(`${base}/#gallery`);
  await page.waitForSelector(`#gallery-items li[data-id="${publicId}"]`, long);
  check((await page.$$(`#gallery-items li[data-id="${privateId}"]`)).length === 0,
    `the gallery, newest first, shows the public photo uploaded before it but not the private one (${privateId})`);
  await page.goto(`${base}/#upload`);
  await page.check('input[name="visibility"][value="public"]');
  await page.setInputFiles("#files", text);
  const rejected = await page.waitForSelector(".uploads li .bad", long);
  const reason = await rejected.textContent();
  check(reason.startsWith("rejected: ") && reason.length > 12, `a text file named .jpg is rejected with a reason (${reason})`);

  await page.goto(`${base}/#failures`);
  await page.waitForSelector('#failure-rows td:text-is("text.jpg")', long);
  check(true, "the failures view lists it");
  await page.screenshot({ path: `${shots}/failures.png`, fullPage: true });

  await page.goto(`${base}/#profile`);
  await page.waitForSelector("#profile-photos img", long);
  const before = await page.$eval("#avatar", (i) => i.src);
  await page.setInputFiles("#avatar-file", photo);
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("new avatar is in place"), null, long);
  await page.waitForFunction(() => { const i = document.getElementById("avatar"); return i.complete && i.naturalWidth === 512 && i.src.includes("/avatars/"); }, null, long);
  const after = await page.$eval("#avatar", (i) => i.src);
  check(await page.$eval("#avatar", (i) => i.naturalHeight === 512) && after !== before && after.includes("?v="),
    `the profile shows the new 512x512 avatar at a new URL without a reload (${after})`);
  await page.screenshot({ path: `${shots}/profile.png`, fullPage: true });
  await page.click("#avatar-delete");
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("avatar is removed"), null, long);
  const removed = await page.$eval("#avatar", (i) => i.src);
  check(removed.endsWith("/placeholder.svg") && await page.$eval("#avatar-delete", (b) => b.hidden),
    `Remove avatar puts the placeholder back and hides itself (${removed})`);

  await page.goto(`${base}/#smallest`);
  await page.waitForSelector("#smallest-rows tr", long);
  const sizes = await page.$$eval("#smallest-rows tr", (rows) => rows.map((r) => Number(r.dataset.size)));
  const ascending = sizes.every((s, i) => i === 0 || sizes[i - 1] <= s);
  check(sizes.length >= 3 && ascending && sizes[0] < sizes[sizes.length - 1], `the 5 smallest are in ascending size (${sizes})`);
  check((await page.$$eval("#smallest-rows tr:first-child td", (c) => c.length)) === 6, "each row shows every catalog field");
  await page.screenshot({ path: `${shots}/smallest.png`, fullPage: true });
  const unlabeled = await page.$$eval("input, textarea", (els) => els.filter((e) => !e.labels?.length).map((e) => e.id));
  check(unlabeled.length === 0, `every field has a label (${unlabeled})`);

  await page.click("#sign-out-button");
  await page.waitForFunction(() => document.getElementById("sign-in-button")?.hidden === false, null, long);
  check(await signedOutOffers("upload") && await signedOutOffers("profile"), "signed out again, upload and profile offer sign-in");

  await page.goto(`${base}/#mine`);
  await signIn(second, "sign-up");
  await page.goto(`${base}/#mine`);
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("no photos yet"), null, long);
  check((await page.$$("#mine-items li")).length === 0, "a second user's photos do not include the first user's");
  await page.screenshot({ path: `${shots}/signed-in-second.png`, fullPage: true });

  // The second user deletes the account; signing in with it again fails.
  await page.goto(`${base}/#profile`);
  await page.waitForSelector("#account-delete", { state: "visible", ...long });
  await page.click("#account-delete");
  await page.waitForFunction(() => document.getElementById("sign-in-button")?.hidden === false, null, long);
  const again = await browser.newPage();
  // Clicked as soon as the page is there, while /auth.json (where to sign in) is still on its way,
  // as on a slow network: the click waits for the answer instead of doing nothing.
  await again.route("**/auth.json", async (route) => { await new Promise((r) => setTimeout(r, 2000)); await route.continue(); });
  await again.goto(`${base}/#profile`, { waitUntil: "domcontentloaded" });
  await again.click("#sign-in-button");
  await again.waitForSelector("#email", long);
  await again.fill("#email", second);
  await again.fill("#password", password);
  await again.click("#sign-in");
  const refusal = await again.waitForSelector("#login-error", long).then((e) => e.textContent(), () => "");
  check(refusal.includes("Incorrect"), `a deleted account cannot sign in again (${refusal})`);
  await again.close();

  const fresh = await browser.newPage();
  await fresh.goto(`${base}/#gallery`);
  for (let i = 0; i < 3; i++) await fresh.keyboard.press("Tab"); // site name, Gallery, 5 smallest
  await fresh.keyboard.press("Enter");
  check(await fresh.waitForFunction(() => location.hash === "#smallest" && document.getElementById("smallest")?.hidden === false).then(() => true, () => false),
    "the keyboard alone moves between sections");
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const filled = { gallery: "#gallery-items li img", smallest: "#smallest-rows tr", upload: "#upload .signed-out button", profile: "#profile .signed-out button" };
  for (const [view, selector] of Object.entries(filled)) {
    await phone.goto(`${base}/#${view}`);
    await phone.waitForSelector(selector, { state: "visible", ...long });
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
