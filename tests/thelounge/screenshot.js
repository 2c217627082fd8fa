// Logs in to The Lounge as `alice`, opens #bob, prints what the channel
// shows (time, nick, text per line) and saves a screenshot. Run by
// tests/thelounge/run; needs puppeteer-core and Debian's Chromium.
const puppeteer = require("puppeteer-core");

(async () => {
  const [url, shot] = [process.argv[2], process.argv[3]];
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--headless=new"],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 800 });
    await page.goto(url, { waitUntil: "networkidle2" });
    await page.waitForSelector("#signin-username", { timeout: 30000 });
    await page.type("#signin-username", "alice");
    await page.type("#signin-password", "secret");
    await page.click("button[type=submit]");
    await page.waitForSelector(".channel-list-item[data-name='#bob']", { timeout: 30000 });
    await page.click(".channel-list-item[data-name='#bob']");
    await page.waitForSelector("#chat .messages .msg", { timeout: 30000 });
    await new Promise((r) => setTimeout(r, 3000));
    const lines = await page.$$eval("#chat .messages .msg", (msgs) =>
      msgs.map((m) => [".time", ".from", ".content"]
        .map((s) => (m.querySelector(s) || { innerText: "" }).innerText.trim())
        .join("  ")));
    console.log(lines.join("\n"));
    await page.screenshot({ path: shot });
  } finally {
    await browser.close();
  }
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
