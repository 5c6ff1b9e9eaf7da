using System.Net;
using System.Text;
using Analytics.LoadTests.Targets;
using Analytics.LocalStack;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.LoadTests;

/// <summary>
/// The floor that <c>compare</c> measures the service against must keep the service's guarantee,
/// or its ratio would be no bound at all: every answer leaves only once Redis holds the hit, and
/// the count is exact under concurrency.
/// </summary>
public sealed class FloorTargetTests(Servers servers)
{
    [Fact]
    public async Task EveryAnswerLeavesOnlyOnceRedisHasItsHitAndNoneIsLostUnderConcurrency()
    {
        var cancellationToken = TestContext.Current.CancellationToken;
        var port = FreePort.Next();
        await using var app = FloorTarget.Build(port, servers.RedisConnection, FloorSettings.Default);
        await app.StartAsync(cancellationToken);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var redis = servers.Redis.GetDatabase();
        var start = (long)await redis.StringGetAsync(FloorTarget.Key);

        // One at a time: each answer finds its own hit in Redis already (no batch to hide in).
        for (var i = 1; i <= 20; i++)
        {
            using var response = await client.GetAsync(new Uri("/p.gif", UriKind.Relative), cancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/gif", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(start + i, (long)await redis.StringGetAsync(FloorTarget.Key));
        }

        // Many at once (pixels, beacons and a batch of 7): batched, and exact.
        var requests = Enumerable.Range(0, 300).Select(async i =>
        {
            using var response = i % 3 == 0
                ? await client.PostAsync(new Uri("/api/event", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"), cancellationToken)
                : await client.GetAsync(new Uri("/p.gif", UriKind.Relative), cancellationToken);
            return response.IsSuccessStatusCode;
        }).ToList();
        using var batch = await client.PostAsync(new Uri("/api/events", UriKind.Relative), new StringContent("[{},{},{},{},{},{},{}]", Encoding.UTF8, "application/json"), cancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, batch.StatusCode);
        Assert.Contains("\"accepted\":7", await batch.Content.ReadAsStringAsync(cancellationToken), StringComparison.Ordinal);
        Assert.All(await Task.WhenAll(requests), Assert.True);

        Assert.Equal(start + 20 + 300 + 7, (long)await redis.StringGetAsync(FloorTarget.Key));
    }
}
