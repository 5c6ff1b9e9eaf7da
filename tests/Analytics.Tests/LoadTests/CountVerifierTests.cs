using Analytics.LoadTests.Targets;
using Analytics.LoadTests.Verification;
using Analytics.LocalStack;
using Analytics.Tests.Infrastructure;

namespace Analytics.Tests.LoadTests;

/// <summary>The load tests' exact-count verification, checked against a target that loses hits on purpose.</summary>
public sealed class CountVerifierTests(Servers servers)
{
    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public async Task VerificationFailsExactlyWhenTheTargetLosesHits(int dropEvery)
    {
        await using var target = await LossyTarget.StartAsync(FreePort.Next(), servers.RedisConnection, dropEvery, TestContext.Current.CancellationToken);
        var site = Servers.NewSiteId("lossy");
        await target.AddSiteAsync(site, site + ".example");
        using var client = new HttpClient { BaseAddress = target.BaseAddress };
        var expected = new ExpectedCounts();
        for (var i = 0; i < 30; i++)
        {
            using var response = await client.GetAsync(new Uri($"/p.gif?s={site}&u=https%3A%2F%2F{site}.example%2Fa", UriKind.Relative));
            Assert.True(response.IsSuccessStatusCode);
            expected.AddAcknowledged(new HitCell(site, DateOnly.FromDateTime(DateTime.UtcNow), "/a", "(direct)"));
        }

        var (result, _) = await new CountVerifier(servers.Redis, clickHouse: null).VerifyRedisAsync(expected);

        Assert.Equal(dropEvery == 0, result.Passed);
        Assert.Equal(dropEvery == 0 ? 0 : 10, target.Dropped);
        Assert.Equal(30, result.MustCount);
        Assert.Equal(30 - target.Dropped, result.Counted);
    }
}
