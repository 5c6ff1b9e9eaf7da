using System.Buffers;

namespace Analytics.Ingest;

/// <summary>
/// Known bots and crawlers by User-Agent. Browsers (headless ones too) are people's page views, and
/// so are plain HTTP libraries (curl, python-requests, Go, Java, OkHttp …): they are how apps, proxies
/// and load tests send hits, and counting them is what the sender asked for. Wget is not among
/// them: it fetches pages (mirrors, scrapers), it does not report them.
/// </summary>
internal static class BotFilter
{
    private static readonly SearchValues<string> Markers = SearchValues.Create(
    [
        "bot", "crawl", "spider", "slurp", "mediapartners", "facebookexternalhit", "facebookcatalog",
        "embedly", "quora link preview", "outbrain", "pinterest", "bitlybot", "vkshare", "w3c_validator",
        "whatsapp", "skypeuripreview", "chrome-lighthouse", "pingdom", "uptimerobot", "statuscake",
        "site24x7", "ahrefs", "semrush", "mj12", "dotbot", "petalbot", "bytespider", "gptbot", "ccbot",
        "claudebot", "perplexity", "yandexbot", "yandeximages", "baiduspider", "applebot", "archive.org_bot",
        "ia_archiver", "feedfetcher", "preview", "scrapy", "phantomjs", "wget", "inspectiontool", "googleother",
        "apis-google",
    ], StringComparison.OrdinalIgnoreCase);

    public static bool IsBot(string? userAgent) =>
        !string.IsNullOrEmpty(userAgent) && userAgent.AsSpan().ContainsAny(Markers);
}
