using System.Globalization;
using System.Net.Http.Headers;

namespace Analytics.LoadTests.Load;

/// <summary><c>GET /p.gif?s=SITE&amp;u=URL&amp;r=REFERRER</c>: one view a request, counted on the site's local day of now.</summary>
internal sealed class PixelScenario(LoadCatalog catalog) : Scenario(catalog)
{
    public override string Name => "pixel";

    public override Task<Outcome> SendAsync(HttpClient http, LoadWorker worker)
    {
        var (site, page, referrer) = (worker.PickSite(), worker.PickPage(), worker.PickReferrer());
        worker.Pending.Clear();
        worker.Pending.Add(new PendingHit(site, page, referrer, null));
        var url = Catalog.PageUrl(site, page, worker.PickVariant());
        var sent = LoadCatalog.Referrers[referrer].Sent;
        var path = $"/p.gif?s={Catalog.Sites[site].Id}&u={Uri.EscapeDataString(url)}{(sent is null ? "" : "&r=" + Uri.EscapeDataString(sent))}";
        return ExchangeAsync(http, new HttpRequestMessage(HttpMethod.Get, path), worker, batchAnswer: false);
    }
}

/// <summary><c>POST /api/event</c> <c>{"site","url","referrer"}</c>: our beacon, one view a request.</summary>
internal sealed class BeaconScenario(LoadCatalog catalog) : Scenario(catalog)
{
    public override string Name => "beacon";

    public override Task<Outcome> SendAsync(HttpClient http, LoadWorker worker)
    {
        var (site, page, referrer) = (worker.PickSite(), worker.PickPage(), worker.PickReferrer());
        worker.Pending.Clear();
        worker.Pending.Add(new PendingHit(site, page, referrer, null));
        var json = worker.StartBody();
        json.WriteStartObject();
        json.WriteString("site", Catalog.Sites[site].Id);
        json.WriteString("url", Catalog.PageUrl(site, page, worker.PickVariant()));
        json.WriteString("referrer", LoadCatalog.Referrers[referrer].Sent);
        json.WriteEndObject();
        json.Flush();
        var content = new ReadOnlyMemoryContent(worker.Body.WrittenMemory);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return ExchangeAsync(http, new HttpRequestMessage(HttpMethod.Post, "/api/event") { Content = content }, worker, batchAnswer: false);
    }
}

/// <summary>
/// <c>POST /api/events</c> with the site's ingest key: <see cref="EventsPerBatch"/> events whose
/// <c>ts</c> is spread over the last <see cref="LoadCatalog.Days"/> days (back-fill), each with a
/// visitor's ip and User-Agent. The day of each event is fixed by its ts.
/// </summary>
internal sealed class BatchScenario(LoadCatalog catalog, int eventsPerBatch = 100) : Scenario(catalog)
{
    private static readonly string[] UserAgents =
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
    ];

    public override string Name => "batch";

    public int EventsPerBatch { get; } = eventsPerBatch;

    public override Task<Outcome> SendAsync(HttpClient http, LoadWorker worker)
    {
        var site = worker.PickSite();
        var loadSite = Catalog.Sites[site];
        var now = DateTimeOffset.UtcNow;
        var span = TimeSpan.FromDays(Catalog.Days).Ticks;
        worker.Pending.Clear();
        var json = worker.StartBody();
        json.WriteStartArray();
        for (var i = 0; i < EventsPerBatch; i++)
        {
            var (page, referrer) = (worker.PickPage(), worker.PickReferrer());
            // At least a second back, at most Days back; whole milliseconds, so the day is what the service parses.
            var at = now.AddTicks(-TimeSpan.TicksPerSecond - (long)(worker.Random.NextDouble() * span));
            at = new DateTimeOffset(at.UtcTicks - (at.UtcTicks % TimeSpan.TicksPerMillisecond), TimeSpan.Zero);
            worker.Pending.Add(new PendingHit(site, page, referrer, loadSite.LocalDay(at)));
            json.WriteStartObject();
            json.WriteString("url", Catalog.PageUrl(site, page, worker.PickVariant()));
            json.WriteString("referrer", LoadCatalog.Referrers[referrer].Sent);
            json.WriteString("ts", at.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
            json.WriteString("ip", string.Create(CultureInfo.InvariantCulture, $"10.{worker.Random.Next(256)}.{worker.Random.Next(256)}.{worker.Random.Next(1, 255)}"));
            json.WriteString("userAgent", UserAgents[worker.Random.Next(UserAgents.Length)]);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.Flush();
        var content = new ReadOnlyMemoryContent(worker.Body.WrittenMemory);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/events") { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", loadSite.IngestKey);
        return ExchangeAsync(http, request, worker, batchAnswer: true);
    }
}

/// <summary>All of them: pixel 60 %, beacon 30 %, batch 10 % of requests, over every site, page and day.</summary>
internal sealed class MixScenario : Scenario
{
    private readonly Scenario[] _parts;

    public MixScenario(LoadCatalog catalog) : base(catalog)
    {
        _parts = [new PixelScenario(catalog), new BeaconScenario(catalog), new BatchScenario(catalog)];
    }

    public override string Name => "mix";

    public override Task<Outcome> SendAsync(HttpClient http, LoadWorker worker)
    {
        var roll = worker.Random.Next(10);
        var part = roll < 6 ? _parts[0] : roll < 9 ? _parts[1] : _parts[2];
        part.MayHaveCounted = MayHaveCounted;
        return part.SendAsync(http, worker);
    }
}

internal static class Scenarios
{
    public static readonly string[] Names = ["pixel", "beacon", "batch", "mix"];

    public static Scenario Create(string name, LoadCatalog catalog) => name switch
    {
        "pixel" => new PixelScenario(catalog),
        "beacon" => new BeaconScenario(catalog),
        "batch" => new BatchScenario(catalog),
        "mix" => new MixScenario(catalog),
        _ => throw new ArgumentException($"Unknown scenario '{name}'; use one of {string.Join(", ", Names)}.", nameof(name)),
    };
}
