// The site: plain ES modules, no build step. It talks only to /api/* (openapi.json), uploads
// straight to S3 with the presigned POST the api grants, and signs people in (auth.js).

import * as auth from "./auth.js";

const $ = (id) => document.getElementById(id);
const sections = ["gallery", "smallest", "mine", "upload", "failures", "profile"];
// These need an account: signed out, they offer sign-in instead of failing.
const personal = new Set(["mine", "upload", "failures", "profile"]);
const say = (text) => { $("status").textContent = text; };

async function api(method, path, body) {
  const headers = {};
  const token = await auth.accessToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (response.status === 204) return {};
  const data = await response.json().catch(() => ({}));
  if (response.status === 401) throw new Error("sign in first");
  if (!response.ok) {
    const e = data.error || {};
    throw new Error(e.field ? `${e.field}: ${e.message}` : e.message || `HTTP ${response.status}`);
  }
  return data;
}

const bytes = (n) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KB` : `${n} B`);

function el(tag, { dataset = {}, ...props } = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset); // `dataset` itself cannot be assigned
  for (const child of children) node.append(child);
  return node;
}

// --- sections -------------------------------------------------------------------------------

function show() {
  if (location.hash === "#sign-in" && !auth.user()) { auth.signIn(); return; }
  const current = sections.includes(location.hash.slice(1)) ? location.hash.slice(1) : "gallery";
  for (const name of sections) $(name).hidden = name !== current;
  for (const a of document.querySelectorAll("nav a")) {
    if (a.hash === `#${current}`) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  say("");
  const signedIn = auth.user() !== null;
  const section = $(current);
  for (const prompt of section.querySelectorAll(".signed-out")) prompt.hidden = signedIn;
  for (const part of section.querySelectorAll(".signed-in")) part.hidden = !signedIn;
  if (personal.has(current) && !signedIn) return;
  const load = { gallery: loadGallery, smallest: loadSmallest, mine: loadMine, failures: loadFailures, profile: loadProfile, upload: async () => {} }[current];
  load().catch((e) => say(`Could not load: ${e.message}`));
}

function showAccount(user) {
  $("who").textContent = user ? `Signed in as ${user.email}` : "";
  $("sign-in-button").hidden = user !== null;
  $("sign-out-button").hidden = user === null;
}

// A paginated list: the first page replaces what is shown, "Load more" appends the next.
function pager({ list, more, path, item, empty }) {
  let cursor = null;
  return async (next = false) => {
    if (!next) { $(list).replaceChildren(); cursor = null; }
    const query = new URLSearchParams({ limit: "24" });
    if (next && cursor) query.set("cursor", cursor);
    const page = await api("GET", `${path}${path.includes("?") ? "&" : "?"}${query}`);
    $(list).append(...page.items.map(item));
    cursor = page.next_cursor;
    $(more).hidden = !cursor;
    if (!$(list).children.length) say(empty);
  };
}

// The public gallery shows thumbnails only; originals are their owners' (my photos).
function galleryItem(item) {
  return el("li", { dataset: { id: item.id } }, el("img", { src: item.thumbnail_url, alt: item.file_name, loading: "lazy" }),
    el("p", { textContent: item.file_name }),
    el("p", { textContent: `${item.upload_date} ${item.upload_time} · ${bytes(item.thumbnail_size)}` }));
}

function mineItem(item) {
  const remove = el("button", { type: "button", className: "delete", textContent: "Delete", ariaLabel: `Delete ${item.file_name}` });
  const li = el("li", { dataset: { id: item.id } },
    el("a", { href: item.original_url, title: `Download the original of ${item.file_name}` },
      el("img", { src: item.thumbnail_url, alt: item.file_name, loading: "lazy" })),
    el("p", { textContent: item.visibility === "private" ? `${item.file_name} (private)` : item.file_name }),
    el("p", { textContent: `${item.upload_date} ${item.upload_time} · ${bytes(item.original_size)}` }), remove);
  remove.addEventListener("click", async () => {
    if (!confirm(`Delete ${item.file_name}? Its original and thumbnail go too.`)) return;
    try { await api("DELETE", `/api/photos?id=${encodeURIComponent(item.id)}`); li.remove(); say(`Deleted ${item.file_name}.`); }
    catch (e) { say(`Not deleted: ${e.message}`); }
  });
  return li;
}

const loadGallery = pager({ list: "gallery-items", more: "gallery-more", path: "/api/images?sort=recent", item: galleryItem, empty: "No photos yet: upload some." });
const loadMine = pager({ list: "mine-items", more: "mine-more", path: "/api/photos", item: mineItem, empty: "You have no photos yet: upload some." });

async function loadSmallest() {
  const page = await api("GET", "/api/images?sort=smallest&limit=5");
  $("smallest-rows").replaceChildren(...page.items.map((i) => el("tr", { dataset: { size: i.thumbnail_size } },
    el("td", {}, el("img", { src: i.thumbnail_url, alt: i.file_name })),
    el("td", { textContent: i.file_name }),
    el("td", { textContent: i.upload_date }),
    el("td", { textContent: i.upload_time }),
    el("td", { textContent: bytes(i.original_size) }),
    el("td", { textContent: bytes(i.thumbnail_size) }))));
  if (!page.items.length) say("No photos yet.");
}

async function loadFailures() {
  const page = await api("GET", "/api/failures?limit=50");  // the caller's own
  $("failure-rows").replaceChildren(...page.items.map((f) => el("tr", {},
    el("td", { textContent: f.file_name ?? f.key }),
    el("td", { textContent: new Date(f.uploaded_at).toLocaleString() }),
    el("td", { textContent: f.reason }))));
  if (!page.items.length) say("Nothing has been rejected.");
}

// --- uploads --------------------------------------------------------------------------------

// The presigned POST: fields first, the file last, with progress.
function post(grant, file, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(grant.fields)) form.append(k, v);
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", grant.url);
    xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
    xhr.onload = () => (xhr.status < 300 ? resolve() : reject(new Error(`storage refused the upload (HTTP ${xhr.status})`)));
    xhr.onerror = () => reject(new Error("the upload did not reach storage"));
    xhr.send(form);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Waits for the thumbnail function's outcome: a catalog row, or a failure record.
async function outcome(grant) {
  for (let i = 0; i < 120; i++) {
    const images = await api("GET", "/api/photos?limit=50");
    const row = images.items.find((r) => r.id === grant.upload_id);
    if (row) return { row };
    const failures = await api("GET", "/api/failures?limit=50");
    const failure = failures.items.find((f) => f.key === grant.key);
    if (failure) return { failure };
    await sleep(1000);
  }
  return {};
}

async function uploadOne(file) {
  const status = el("span", { textContent: "waiting" });
  const bar = el("progress", { max: 1, value: 0, ariaLabel: `Upload progress of ${file.name}` });
  const item = el("li", {}, el("strong", { textContent: file.name }), status, bar);
  $("uploads").prepend(item);
  try {
    const visibility = document.querySelector('input[name="visibility"]:checked')?.value ?? "public";
    const grant = await api("POST", "/api/uploads", { kind: "image", file_name: file.name, content_type: file.type || "image/jpeg", size: file.size, visibility });
    status.textContent = "uploading";
    await post(grant, file, (p) => { bar.value = p; });
    status.textContent = "making the thumbnail";
    const { row, failure } = await outcome(grant);
    if (row) {
      status.replaceChildren(el("img", { src: row.thumbnail_url, alt: `Thumbnail of ${file.name}` }), ` ${bytes(row.thumbnail_size)}`);
      status.className = "ok";
    } else {
      status.textContent = failure ? `rejected: ${failure.reason}` : "still processing; see the gallery later";
      status.className = failure ? "bad" : "";
    }
  } catch (e) {
    status.textContent = `failed: ${e.message}`;
    status.className = "bad";
  }
}

function uploadAll(files) {
  for (const file of files) uploadOne(file);
}

// --- profile --------------------------------------------------------------------------------

let avatarVersion = null;

function showProfile(p) {
  $("display-name").value = p.display_name;
  $("bio").value = p.bio;
  avatarVersion = p.avatar_version;
  $("avatar").src = p.avatar_url || "/placeholder.svg";
  $("avatar-delete").hidden = !p.avatar_url;
}

async function deleteAvatar() {
  try {
    await api("DELETE", "/api/avatar");
    showProfile(await api("GET", "/api/profile"));
    say("Your avatar is removed.");
  } catch (e) {
    say(`Avatar not removed: ${e.message}`);
  }
}

async function deleteAccount() {
  if (!confirm("Delete your account? Every photo, avatar and record of yours goes, and you cannot sign in with it again.")) return;
  try {
    await api("DELETE", "/api/account");
    say("Your account is deleted.");
    auth.signOut();
  } catch (e) {
    say(`Account not deleted: ${e.message}`);
  }
}

async function loadProfile() {
  const [profile, photos] = await Promise.all([api("GET", "/api/profile"), api("GET", "/api/photos?limit=12")]);
  showProfile(profile);
  $("profile-photos").replaceChildren(...photos.items.map((i) => el("li", {}, el("img", { src: i.thumbnail_url, alt: i.file_name, loading: "lazy" }))));
}

async function saveProfile(event) {
  event.preventDefault();
  try {
    showProfile(await api("PUT", "/api/profile", { display_name: $("display-name").value, bio: $("bio").value }));
    say("Saved.");
  } catch (e) {
    say(`Not saved: ${e.message}`);
  }
}

async function uploadAvatar() {
  const file = $("avatar-file").files[0];
  if (!file) return;
  $("avatar").src = URL.createObjectURL(file); // preview at once
  try {
    const grant = await api("POST", "/api/uploads", { kind: "avatar", file_name: file.name, content_type: file.type || "image/jpeg", size: file.size });
    say("Uploading your avatar…");
    await post(grant, file, () => {});
    say("Making your avatar…");
    for (let i = 0; i < 120; i++) {
      const p = await api("GET", "/api/profile");
      if (p.avatar_version === grant.upload_id) { showProfile(p); say("Your new avatar is in place."); return; }
      const failures = await api("GET", "/api/failures?limit=50");
      const failure = failures.items.find((f) => f.key === grant.key);
      if (failure) { say(`Avatar rejected: ${failure.reason}`); return; }
      await sleep(1000);
    }
    say("Your avatar is still being processed.");
  } catch (e) {
    say(`Avatar not uploaded: ${e.message}`);
  }
}

// --- wiring ---------------------------------------------------------------------------------

window.addEventListener("hashchange", show);
$("gallery-more").addEventListener("click", () => loadGallery(true).catch((e) => say(e.message)));
$("mine-more").addEventListener("click", () => loadMine(true).catch((e) => say(e.message)));
for (const b of document.querySelectorAll("button.sign-in")) b.addEventListener("click", () => auth.signIn());
$("sign-in-button").addEventListener("click", () => auth.signIn());
$("sign-out-button").addEventListener("click", () => auth.signOut());
auth.onChange(showAccount);
$("files").addEventListener("change", (e) => uploadAll(e.target.files));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); uploadAll(e.dataTransfer.files); });
$("profile-form").addEventListener("submit", saveProfile);
$("avatar-file").addEventListener("change", uploadAvatar);
$("avatar-delete").addEventListener("click", deleteAvatar);
$("account-delete").addEventListener("click", deleteAccount);
auth.start().catch((e) => say(`Not signed in: ${e.message}`)).finally(() => { showAccount(auth.user()); show(); });
