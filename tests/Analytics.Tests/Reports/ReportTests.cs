using System.Net;
using System.Net.Http.Json;
using System.Text;
using Analytics.Reports;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Reports;

public sealed class ReportTests(Servers servers)
{
    private static readonly DateTimeOffset Now = new(2026, 11, 20, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task ReportHasClosedDaysFromClickHouseAndTodayFromRedis()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("rep");
        var key = await app.CreateSiteAsync(site);
        app.Time.SetUtcNow(Now);
        await app.SendBatchAsync(key, Enumerable.Range(0, 30).Select(i => ($"https://example.com/{i % 3}", (DateTimeOffset?)Now.AddDays(-1 - (i % 2)))));
        await app.RollupAsync(site, servers.Redis);
        await app.SendBatchAsync(key, Enumerable.Range(0, 4).Select(i => ("https://example.com/today", (DateTimeOffset?)null)));
        // A late back-filled hit for a closed day, not rolled up yet: the report still has it.
        // (SendBatchAsync gives each URL length its own visitor address: /0../2 are one visitor, /late another.)
        await app.SendBatchAsync(key, [("https://example.com/late", Now.AddDays(-2))]);
        using var admin = app.Admin();

        var csv = await admin.GetStringAsync(new Uri($"/api/sites/{site}/reports/daily?from=2026-11-17&to=2026-11-20&by=day&format=csv", UriKind.Relative));

        Assert.Equal(
            [["date", "views", "visitors"], ["2026-11-17", "0", "0"], ["2026-11-18", "16", "2"], ["2026-11-19", "15", "1"], ["2026-11-20", "4", "1"]],
            Csv.Parse(csv).Select(r => r.ToArray()));
        var pages = Csv.Parse(await admin.GetStringAsync(new Uri($"/api/sites/{site}/reports/daily?from=2026-11-18&to=2026-11-20&by=page", UriKind.Relative)));
        Assert.Equal(["date", "path", "views"], pages[0]);
        Assert.Equal(35, pages.Skip(1).Sum(r => int.Parse(r[2], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Contains(["2026-11-18", "/late", "1"], pages.Select(r => r.ToArray()));
        Assert.Equal(["2026-11-20", "/today", "4"], pages[^1]);

        var json = await admin.GetFromJsonAsync<List<Dictionary<string, System.Text.Json.JsonElement>>>($"/api/sites/{site}/reports/daily?from=2026-11-18&to=2026-11-20&by=referrer&format=json");
        Assert.Equal(35, json!.Sum(r => r["views"].GetInt64()));
        Assert.All(json!, r => Assert.Equal(["date", "referrer", "views"], r.Keys));
    }

    [Fact]
    public async Task CsvRoundTripsPathsWithCommasQuotesControlCharactersAndNonAscii()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("csv");
        var key = await app.CreateSiteAsync(site);
        string[] paths = ["/a,b", "/say \"hi\"", "/two\nlines", "/crlf\r\nend", "/café/İstanbul/日本", "/plain"];
        // Control characters stay percent-escaped in counted paths (PageUrl), so no row breaks apart.
        string[] counted = ["/a,b", "/say \"hi\"", "/two%0Alines", "/crlf%0D%0Aend", "/café/İstanbul/日本", "/plain"];
        await app.SendBatchAsync(key, paths.Select(p => ("https://example.com" + string.Concat(p.Select(c => c is '/' ? "/" : Uri.EscapeDataString(c.ToString()))), (DateTimeOffset?)null)));
        await app.RollupAsync(site, servers.Redis);
        using var admin = app.Admin();

        using var response = await admin.GetAsync(new Uri($"/api/sites/{site}/reports/daily?by=page&format=csv", UriKind.Relative));
        Assert.Equal("text/csv", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("utf-8", response.Content.Headers.ContentType?.CharSet);
        var text = Encoding.UTF8.GetString(await response.Content.ReadAsByteArrayAsync());

        var rows = Csv.Parse(text);
        Assert.Equal(counted.Order(StringComparer.Ordinal), rows.Skip(1).Select(r => r[1]).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("from=2026-13-01&to=2026-11-20", "from")]
    [InlineData("from=20261101&to=2026-11-20", "from")]
    [InlineData("from=2026-11-01&to=yesterday", "to")]
    [InlineData("from=2026-11-21&to=2026-11-20", "from")]
    [InlineData("from=2020-01-01&to=2026-11-20", "to")]
    [InlineData("to=0001-01-05", "to")]
    [InlineData("from=0001-01-01&to=2026-11-20", "from")]
    [InlineData("from=2026-11-01&to=2150-01-01", "to")]
    [InlineData("by=week", "by")]
    [InlineData("format=xlsx", "format")]
    public async Task BadReportParametersAre400(string query, string field)
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("bad");
        await app.CreateSiteAsync(site);
        using var admin = app.Admin();

        using var response = await admin.GetAsync(new Uri($"/api/sites/{site}/reports/daily?{query}", UriKind.Relative));

        await Http.AssertProblemAsync(response, HttpStatusCode.BadRequest, field);
    }

    [Fact]
    public async Task ReportsNeedStaffOfTheSite()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("a");
        var other = Servers.NewSiteId("b");
        await app.CreateSiteAsync(site, publicCounter: true);
        await app.CreateSiteAsync(other);
        using var admin = app.Admin();
        var token = (await (await admin.PostAsJsonAsync("/api/tokens", new { name = "r", sites = new[] { other } })).ReadJsonAsync()).GetProperty("token").GetString()!;
        var viewer = "v-" + Guid.NewGuid().ToString("N")[..8];
        (await admin.PostAsJsonAsync("/api/users", new { name = viewer, password = "long enough password", sites = new[] { other } })).EnsureSuccessStatusCode();
        using var viewerClient = app.CreateClient(new() { HandleCookies = true });
        (await viewerClient.PostAsJsonAsync("/api/login", new { name = viewer, password = "long enough password" })).EnsureSuccessStatusCode();
        var path = new Uri($"/api/sites/{site}/reports/daily", UriKind.Relative);

        // Public counters are not public reports.
        await Http.AssertProblemAsync(await app.CreateClient().GetAsync(path), HttpStatusCode.Unauthorized);
        await Http.AssertProblemAsync(await app.WithBearer("nope").GetAsync(path), HttpStatusCode.Unauthorized);
        await Http.AssertProblemAsync(await app.WithBearer(token).GetAsync(path), HttpStatusCode.Forbidden);
        await Http.AssertProblemAsync(await viewerClient.GetAsync(path), HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.OK, (await app.WithBearer(token).GetAsync(new Uri($"/api/sites/{other}/reports/daily", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await viewerClient.GetAsync(new Uri($"/api/sites/{other}/reports/daily?format=json", UriKind.Relative))).StatusCode);
        await Http.AssertProblemAsync(await admin.GetAsync(new Uri("/api/sites/no-such-site-here/reports/daily", UriKind.Relative)), HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task HundredThousandRowExportStreamsInSmallWrites()
    {
        await using var app = new TestApp(servers);
        var site = Servers.NewSiteId("big");
        await app.CreateSiteAsync(site);
        app.Time.SetUtcNow(Now);
        // A year of pages, written straight into ClickHouse as a rollup would.
        var rows = Enumerable.Range(0, 100_000).Select(i => new object[] { site, new DateOnly(2026, 1, 1).AddDays(i % 300), $"/page/{i}", (ulong)(1 + (i % 9)), (ulong)(1 + (i % 9)) });
        await servers.ClickHouse.InsertBinaryAsync("analytics.daily_page", ["site", "date", "path", "views", "version"], rows);
        var entry = await app.Get<Analytics.Sites.SiteStore>().FindAsync(site);
        var query = new ReportQuery(new DateOnly(2026, 1, 1), new DateOnly(2026, 11, 19), ReportBy.Page, ReportFormat.Csv);
        var output = new WriteRecorder();

        var written = await ReportWriter.WriteAsync(output, app.Get<ReportReader>().ReadAsync(entry!, query), query.By, query.Format);

        Assert.Equal(100_000, written);
        Assert.True(output.Writes > 50, $"only {output.Writes} writes");
        Assert.InRange(output.LargestWrite, 1, 256 * 1024);

        using var admin = app.Admin();
        using var response = await admin.GetAsync(new Uri($"/api/sites/{site}/reports/daily?from=2026-01-01&to=2026-11-19&by=page", UriKind.Relative), HttpCompletionOption.ResponseHeadersRead);
        Assert.Null(response.Content.Headers.ContentLength);
        var lines = 0;
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync() is not null)
        {
            lines++;
        }

        Assert.Equal(100_001, lines);
    }

    /// <summary>A stream that keeps only the size of what is written to it.</summary>
    private sealed class WriteRecorder : Stream
    {
        public int Writes { get; private set; }

        public long LargestWrite { get; private set; }

        public override void Write(byte[] buffer, int offset, int count) => Record(count);

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Record(buffer.Length);
            return ValueTask.CompletedTask;
        }

        private void Record(int count)
        {
            Writes++;
            LargestWrite = Math.Max(LargestWrite, count);
        }

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
