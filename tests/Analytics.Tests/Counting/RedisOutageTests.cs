using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.Counting;

public sealed class RedisOutageTests(Servers servers)
{
    /// <summary>Polls <c>/readyz</c> (30 s at most) until Redis is up and nothing is held; its last answer.</summary>
    private static async Task<JsonElement> WaitUntilWrittenAsync(HttpClient client, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        JsonElement readiness;
        do
        {
            await Task.Delay(200, ct);
            using var ready = await client.GetAsync(new Uri("/readyz", UriKind.Relative), ct);
            readiness = await ready.Content.ReadFromJsonAsync<JsonElement>(ct);
        }
        while ((readiness.GetProperty("bufferedHits").GetInt64() > 0 || readiness.GetProperty("redis").GetString() != "up") && DateTime.UtcNow < deadline);

        return readiness;
    }

    [Fact]
    public async Task HitsDuringARedisOutageAreHeldAndWrittenWhenItIsBack()
    {
        await using var redis = servers.PrivateRedis();
        await redis.StartAsync();
        await using var app = new TestApp(servers, redis: redis.ConnectionString);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();
        var ct = TestContext.Current.CancellationToken;

        async Task<int> SendAsync(int count)
        {
            var ok = 0;
            await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (i, token) =>
            {
                using var response = await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/p{i % 5}", UriKind.Relative), token);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref ok);
                }
            });
            return ok;
        }

        var before = await SendAsync(300);
        Assert.Equal(300, before);

        await redis.StopAsync();
        var during = await SendAsync(500);
        Assert.Equal(500, during);

        using (var ready = await client.GetAsync(new Uri("/readyz", UriKind.Relative), ct))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
            var body = await ready.Content.ReadFromJsonAsync<JsonElement>(ct);
            Assert.Equal("down", body.GetProperty("redis").GetString());
            Assert.Equal(500, body.GetProperty("bufferedHits").GetInt64());
        }

        await redis.StartAsync(ct);
        var readiness = await WaitUntilWrittenAsync(client, ct);

        Assert.Equal(0, readiness.GetProperty("bufferedHits").GetInt64());
        var after = await SendAsync(200);
        Assert.Equal(200, after);

        var counts = await app.CountsAsync(site);
        Assert.Equal(1000, counts.Total);
        Assert.Equal(1000, counts.Days[0].Views);
    }

    [Fact]
    public async Task RedisKilledWhileHitsFlowLosesNoneAndCountsNoneTwice()
    {
        await using var redis = servers.PrivateRedis();
        await redis.StartAsync();
        await using var app = new TestApp(servers, redis: redis.ConnectionString);
        var site = Servers.NewSiteId();
        await app.CreateSiteAsync(site);
        using var client = app.CreateClient();
        var ct = TestContext.Current.CancellationToken;

        // Senders keep going through the kill: batches are on the wire when Redis dies, some of
        // them applied (and in its AOF) without the answer getting back. They are sent again
        // after the restart, and the exactly-once record must tell which.
        long answered = 0;
        using var stop = new CancellationTokenSource();
        var senders = Enumerable.Range(0, 16).Select(worker => Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                using var response = await client.GetAsync(new Uri($"/p.gif?s={site}&u=https://example.com/w{worker}/{i % 7}", UriKind.Relative), ct);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref answered);
                }
            }
        }, ct)).ToList();

        await Task.Delay(1500, ct);
        await redis.KillAsync();
        await Task.Delay(1000, ct);
        await redis.RestartAsync(ct);
        await Task.Delay(1500, ct);
        await stop.CancelAsync();
        await Task.WhenAll(senders);

        var held = (await WaitUntilWrittenAsync(client, ct)).GetProperty("bufferedHits").GetInt64();

        Assert.Equal(0, held);
        Assert.True(answered > 1000, $"only {answered} hits were answered");
        var counts = await app.CountsAsync(site);
        Assert.Equal(answered, counts.Total);
        Assert.Equal(answered, counts.Days[0].Views);
    }
}
