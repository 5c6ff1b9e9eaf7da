using Analytics.Counting;
using Analytics.Reports;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Cli;

public sealed class ReportCliTests(Servers servers)
{
    [Fact]
    public async Task ExportWritesTheSameReportAsTheApi()
    {
        await using var app = new TestApp(servers);
        app.Time.SetUtcNow(DateTimeOffset.UtcNow);
        var site = Servers.NewSiteId("exp");
        var key = await app.CreateSiteAsync(site);
        await app.SendBatchAsync(key, Enumerable.Range(0, 40).Select(i => ($"https://example.com/a,{i % 6}", (DateTimeOffset?)DateTimeOffset.UtcNow.AddDays(-(i % 4)))));
        await app.RollupAsync(site, servers.Redis);
        var file = Path.Combine(servers.Root, site + ".csv");
        var from = DateOnly.FromDateTime(DateTime.UtcNow).AddDays(-5).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);

        var export = await Infrastructure.Cli.RunAsync("export", "--site", site, "--from", from, "--by", "page", "--out", file, "--redis", servers.RedisConnection, "--clickhouse", servers.ClickHouseConnection);

        Assert.True(export.ExitCode == 0, export.Error);
        Assert.Contains("Exported", export.Error, StringComparison.Ordinal);
        using var admin = app.Admin();
        var fromApi = await admin.GetStringAsync(new Uri($"/api/sites/{site}/reports/daily?from={from}&by=page", UriKind.Relative));
        Assert.Equal(fromApi, await File.ReadAllTextAsync(file));
        Assert.Equal(40, Csv.Parse(fromApi).Skip(1).Sum(r => int.Parse(r[2], System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task ReconcileAgreesAfterARollupAndFailsOnAMismatch()
    {
        // A Redis of its own: no other test's rollup takes this site's days before the first check.
        await using var redis = servers.PrivateRedis();
        await redis.StartAsync();
        await using var app = new TestApp(servers, redis: redis.ConnectionString);
        app.Time.SetUtcNow(DateTimeOffset.UtcNow);
        var site = Servers.NewSiteId("rec");
        var key = await app.CreateSiteAsync(site);
        await app.SendBatchAsync(key, Enumerable.Range(0, 25).Select(i => ($"https://example.com/{i % 5}", (DateTimeOffset?)DateTimeOffset.UtcNow.AddDays(-(i % 3)))));
        string[] args = ["reconcile", "--site", site, "--redis", redis.ConnectionString, "--clickhouse", servers.ClickHouseConnection];

        var pending = await Infrastructure.Cli.RunAsync(args);
        Assert.True(pending.ExitCode == 0, pending.Output + pending.Error);
        Assert.Contains("pending rollup", pending.Output, StringComparison.Ordinal);

        using var redisClient = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        await app.RollupAsync(site, redisClient);
        var agreed = await Infrastructure.Cli.RunAsync(args);
        Assert.True(agreed.ExitCode == 0, agreed.Output + agreed.Error);
        Assert.Contains("agree", agreed.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("MISMATCH", agreed.Output, StringComparison.Ordinal);

        // Someone writes a wrong row into ClickHouse by hand.
        var today = DateOnly.FromDateTime(DateTime.UtcNow);
        await servers.ClickHouse.InsertBinaryAsync("analytics.daily_site", ["site", "date", "views", "visitors", "version"], [[site, today, 999UL, 1UL, 999UL]]);
        var differ = await Infrastructure.Cli.RunAsync(args);
        Assert.Equal(1, differ.ExitCode);
        Assert.Contains("MISMATCH", differ.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DailyReportFileIsWrittenOnceAfterTheSitesMidnight()
    {
        await using var daily = await TokyoDayAsync("daily");
        var (app, site, files, file) = (daily.App, daily.Site, daily.Files, daily.FileOf("2026-11-21"));

        // Midnight passes in Tokyo; the file waits for the rollup of that day.
        app.Time.SetUtcNow(new DateTimeOffset(2026, 11, 21, 15, 0, 30, TimeSpan.Zero));
        Assert.DoesNotContain(file, await files.WriteDueAsync());
        Assert.False(File.Exists(file));
        await app.RollupAsync(site, daily.RedisClient);
        Assert.Contains(file, await files.WriteDueAsync());

        var rows = Csv.Parse(await File.ReadAllTextAsync(file));
        Assert.Equal(["date", "path", "views"], rows[0]);
        Assert.Equal(12, await DailyFiles.ViewsInAsync(file));
        Assert.All(rows.Skip(1), r => Assert.Equal("2026-11-21", r[0]));
        var written = File.GetLastWriteTimeUtc(file);
        Assert.DoesNotContain(file, await files.WriteDueAsync());
        Assert.Equal(written, File.GetLastWriteTimeUtc(file));
        Assert.Empty(Directory.GetFiles(Path.Combine(daily.Directory, site), "*.partial"));

        // The service was stopped over three Tokyo midnights: the next pass writes all three days.
        app.Time.SetUtcNow(new DateTimeOffset(2026, 11, 24, 15, 0, 30, TimeSpan.Zero));
        var caughtUp = await files.WriteDueAsync();
        Assert.Equal(
            ["2026-11-22.csv", "2026-11-23.csv", "2026-11-24.csv"],
            caughtUp.Where(p => p.Contains(site, StringComparison.Ordinal)).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(written, File.GetLastWriteTimeUtc(file));
    }

    [Fact]
    public async Task DailyReportFileIsWrittenAgainWhenABackFillChangesItsDay()
    {
        await using var daily = await TokyoDayAsync("refile");
        var (app, site, files, file) = (daily.App, daily.Site, daily.Files, daily.FileOf("2026-11-21"));
        var db = daily.RedisClient.GetDatabase();
        app.Time.SetUtcNow(new DateTimeOffset(2026, 11, 21, 15, 0, 30, TimeSpan.Zero));
        await app.RollupAsync(site, daily.RedisClient);
        Assert.Contains(file, await files.WriteDueAsync());
        Assert.Equal(12, await DailyFiles.ViewsInAsync(file));

        // A batch back-fills 5 views into 2026-11-21 (23:45 Tokyo) and 1 into the new day. Until
        // the rollup has them, the file stays as it is; then it is written again, once, with 17.
        await app.SendBatchAsync(daily.Key, [
            .. Enumerable.Range(0, 5).Select(i => ($"https://example.com/late/{i}", (DateTimeOffset?)new DateTimeOffset(2026, 11, 21, 14, 45, 0, TimeSpan.Zero))),
            ("https://example.com/today", (DateTimeOffset?)null)]);
        Assert.DoesNotContain(file, await files.WriteDueAsync());
        Assert.Equal(12, await DailyFiles.ViewsInAsync(file));
        await app.RollupAsync(site, daily.RedisClient);
        var rewritten = await files.WriteDueAsync();
        Assert.Equal([file], rewritten.Where(p => p.Contains(site, StringComparison.Ordinal)));
        Assert.Equal(17, await DailyFiles.ViewsInAsync(file));
        Assert.Contains(["2026-11-21", "/late/3", "1"], Csv.Parse(await File.ReadAllTextAsync(file)));
        Assert.Empty(Directory.GetFiles(Path.Combine(daily.Directory, site), "*.partial"));

        // Nothing changed since: not written again. The new day is marked, and waits for its midnight.
        var written = File.GetLastWriteTimeUtc(file);
        Assert.DoesNotContain(await files.WriteDueAsync(), p => p.Contains(site, StringComparison.Ordinal));
        Assert.Equal(written, File.GetLastWriteTimeUtc(file));
        Assert.Equal(["2026-11-22"], (await db.HashKeysAsync(RedisKeys.Refile(site))).Select(k => k.ToString()));
        app.Time.SetUtcNow(new DateTimeOffset(2026, 11, 22, 15, 0, 30, TimeSpan.Zero));
        Assert.Contains(daily.FileOf("2026-11-22"), await files.WriteDueAsync());
        Assert.Empty(await db.HashKeysAsync(RedisKeys.Refile(site)));
        Assert.Equal(written, File.GetLastWriteTimeUtc(file));
    }

    /// <summary>
    /// A site in Tokyo with daily files on, its own Redis (no other test's rollup rolls its days up
    /// behind the test's back) and no rollup worker, after 12 views at 23:30 on 2026-11-21 there.
    /// </summary>
    private async Task<DailyFiles> TokyoDayAsync(string prefix)
    {
        var directory = Path.Combine(servers.Root, "daily-" + Guid.NewGuid().ToString("N")[..6]);
        var redis = servers.PrivateRedis();
        await redis.StartAsync();
        var redisClient = await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(redis.ConnectionString);
        var app = new TestApp(servers, new() { ["Reports:DailyDirectory"] = directory, ["Analytics:Rollup:Enabled"] = "false" }, redis: redis.ConnectionString);
        var site = Servers.NewSiteId(prefix);
        var key = await app.CreateSiteAsync(site, timeZone: "Asia/Tokyo");
        app.Time.SetUtcNow(new DateTimeOffset(2026, 11, 21, 14, 30, 0, TimeSpan.Zero));
        await app.SendBatchAsync(key, Enumerable.Range(0, 12).Select(i => ($"https://example.com/{i % 4}", (DateTimeOffset?)null)));
        return new DailyFiles(directory, redis, redisClient, app, site, key);
    }

    private sealed record DailyFiles(string Directory, Analytics.LocalStack.LocalRedis Redis, StackExchange.Redis.IConnectionMultiplexer RedisClient, TestApp App, string Site, string Key) : IAsyncDisposable
    {
        public DailyReportFiles Files => App.Get<DailyReportFiles>();

        public string FileOf(string date) => Path.Combine(Directory, Site, $"{date}.csv");

        public static async Task<int> ViewsInAsync(string file) =>
            Csv.Parse(await File.ReadAllTextAsync(file)).Skip(1).Sum(r => int.Parse(r[2], System.Globalization.CultureInfo.InvariantCulture));

        public async ValueTask DisposeAsync()
        {
            await App.DisposeAsync();
            RedisClient.Dispose();
            await Redis.DisposeAsync();
        }
    }

    [Fact]
    public async Task RestartingTheWholeStackLosesNothing()
    {
        var redis = servers.PrivateRedis();
        var clickHouse = servers.PrivateClickHouse();
        await Task.WhenAll(redis.StartAsync(), clickHouse.StartAsync());
        var site = Servers.NewSiteId("restart");
        await using (var app = new TestApp(servers, new() { ["Analytics:Rollup:Enabled"] = "false" }, redis: redis.ConnectionString, clickHouse: clickHouse.ConnectionString))
        {
            app.Time.SetUtcNow(DateTimeOffset.UtcNow);
            var key = await app.CreateSiteAsync(site);
            await app.SendBatchAsync(key, Enumerable.Range(0, 50).Select(i => ($"https://example.com/{i % 5}", (DateTimeOffset?)DateTimeOffset.UtcNow.AddDays(-(i % 2)))));
            await Analytics.ClickHouse.Schema.MigrateAsync(new global::ClickHouse.Driver.ClickHouseClient(clickHouse.ConnectionString), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, default);
            Assert.NotNull(await app.Get<Analytics.Rollup.RollupRunner>().RunAsync());
            await app.SendBatchAsync(key, Enumerable.Range(0, 9).Select(i => ("https://example.com/after-rollup", (DateTimeOffset?)null)));
        }

        await redis.StopAsync();
        await clickHouse.StopAsync();
        await Task.WhenAll(redis.StartAsync(), clickHouse.StartAsync());
        await using (var app = new TestApp(servers, new() { ["Analytics:Rollup:Enabled"] = "false" }, redis: redis.ConnectionString, clickHouse: clickHouse.ConnectionString))
        {
            app.Time.SetUtcNow(DateTimeOffset.UtcNow);
            Assert.Equal(59, (await app.CountsAsync(site)).Total);
            Assert.NotNull(await app.Get<Analytics.Rollup.RollupRunner>().RunAsync());
            using var clickHouseClient = new global::ClickHouse.Driver.ClickHouseClient(clickHouse.ConnectionString);
            Assert.Equal(59, (await clickHouseClient.DaysAsync(site)).Values.Sum(d => d.Views));
            Assert.Equal(59, (await clickHouseClient.BreakdownAsync(site, "daily_page", "path")).Values.Sum());
        }

        await clickHouse.DisposeAsync();
        await redis.DisposeAsync();
    }
}
