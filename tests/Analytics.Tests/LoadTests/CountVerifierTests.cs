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

/// <summary><c>compare</c>'s last check: after a rollup, ClickHouse must hold what Redis holds, counter by counter.</summary>
public sealed class CompareStoresTests
{
    private static readonly DateOnly Day = new(2026, 11, 27);

    private static StoreSnapshot Snapshot(string store, long pageViews = 7, long referrerViews = 7, bool withPage = true)
    {
        var snapshot = new StoreSnapshot(store);
        snapshot.Days[("s", Day)] = 7;
        if (withPage)
        {
            snapshot.Pages[("s", Day, "/a")] = pageViews;
        }

        snapshot.Referrers[("s", Day, "(direct)")] = referrerViews;
        return snapshot;
    }

    [Fact]
    public void EqualStoresPass()
    {
        var result = CountVerifier.CompareStores(Snapshot("Redis"), Snapshot("ClickHouse"));

        Assert.True(result.Passed);
        Assert.Equal(3, result.CountersChecked);
        Assert.Equal(7, result.Counted);
    }

    [Fact]
    public void OneCounterOffOrMissingFailsAndIsNamed()
    {
        var off = CountVerifier.CompareStores(Snapshot("Redis"), Snapshot("ClickHouse", pageViews: 6));
        var missing = CountVerifier.CompareStores(Snapshot("Redis"), Snapshot("ClickHouse", withPage: false));
        var extra = CountVerifier.CompareStores(Snapshot("Redis", withPage: false), Snapshot("ClickHouse"));

        Assert.Equal(1, off.MismatchCount);
        Assert.Contains("page s 2026-11-27 /a: expected 7, found 6 (-1)", off.Verdict(), StringComparison.Ordinal);
        Assert.Equal(1, missing.MismatchCount);
        Assert.Contains("expected 7, found 0", missing.Verdict(), StringComparison.Ordinal);
        Assert.Equal(1, extra.MismatchCount);
        Assert.Contains("expected 0, found 7", extra.Verdict(), StringComparison.Ordinal);
    }
}
