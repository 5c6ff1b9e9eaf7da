using System.Net;
using Analytics.Staff;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Time.Testing;

namespace Analytics.Tests.Staff;

/// <summary>The sign-in limit's bookkeeping, on its own (its HTTP side is in <see cref="AccessTests"/>).</summary>
public sealed class LoginThrottleTests
{
    private const int Limit = LoginThrottle.FailuresPerMinute;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));

    private static DefaultHttpContext From(string address, CancellationToken aborted = default)
    {
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Parse(address);
        context.RequestAborted = aborted;
        return context;
    }

    private static async Task<List<LoginThrottle.Attempt>> TakeAllAsync(LoginThrottle throttle, string address)
    {
        var taken = new List<LoginThrottle.Attempt>();
        for (var i = 0; i < Limit; i++)
        {
            taken.Add((await throttle.BeginAsync(From(address)))!);
        }

        return taken;
    }

    [Fact]
    public async Task WaitingAttemptsGetFreedPlacesInTheOrderTheyCame()
    {
        var throttle = new LoginThrottle(_time);
        var inProgress = await TakeAllAsync(throttle, "192.0.2.1");
        var first = throttle.BeginAsync(From("192.0.2.1"));
        var second = throttle.BeginAsync(From("192.0.2.1"));
        Assert.False(first.IsCompleted);
        Assert.False(second.IsCompleted);

        // A failure keeps its place: nobody moves up.
        inProgress[0].Failed();
        inProgress[0].Dispose();
        Assert.False(first.IsCompleted);

        // A success gives it back, to the first in line only.
        inProgress[1].Dispose();
        Assert.NotNull(await first.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.False(second.IsCompleted);

        // Another address is never held up by this one's line.
        Assert.NotNull(await throttle.BeginAsync(From("192.0.2.2")));
    }

    [Fact]
    public async Task OnceTheFailuresAreUsedUpEveryoneInLineIsRefused()
    {
        var throttle = new LoginThrottle(_time);
        var inProgress = await TakeAllAsync(throttle, "192.0.2.3");
        var waiting = Enumerable.Range(0, 5).Select(_ => throttle.BeginAsync(From("192.0.2.3"))).ToList();

        foreach (var attempt in inProgress)
        {
            attempt.Failed();
            attempt.Dispose();
        }

        foreach (var attempt in waiting)
        {
            Assert.Null(await attempt.WaitAsync(TimeSpan.FromSeconds(5)));
        }

        Assert.Null(await throttle.BeginAsync(From("192.0.2.3")));

        // The next minute starts afresh.
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.NotNull(await throttle.BeginAsync(From("192.0.2.3")));
    }

    [Fact]
    public async Task ANewMinuteWhileAttemptsAreInProgressFreesTheFailuresNotThePlaces()
    {
        var throttle = new LoginThrottle(_time);
        var address = "192.0.2.4";
        var failed = await TakeAllAsync(throttle, address);
        foreach (var attempt in failed.Take(Limit - 1))
        {
            attempt.Failed();
            attempt.Dispose();
        }

        // 9 failures and one in progress: the next one waits.
        var waiting = throttle.BeginAsync(From(address));
        Assert.False(waiting.IsCompleted);

        // A minute later the failures are forgotten; the one in progress still holds its place.
        _time.Advance(TimeSpan.FromMinutes(1));
        var fresh = await Task.WhenAll(Enumerable.Range(0, Limit - 2).Select(_ => throttle.BeginAsync(From(address))));
        Assert.All(fresh, Assert.NotNull);
        Assert.NotNull(await waiting.WaitAsync(TimeSpan.FromSeconds(5)));
        var over = throttle.BeginAsync(From(address));
        Assert.False(over.IsCompleted);
        failed[^1].Dispose();
        Assert.NotNull(await over.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task AnAttemptNeverCheckedCostsNothingAndAClientThatGivesUpLeavesTheLine()
    {
        var throttle = new LoginThrottle(_time);
        var address = "192.0.2.5";
        var inProgress = await TakeAllAsync(throttle, address);
        using var gaveUp = new CancellationTokenSource();
        var leaving = throttle.BeginAsync(From(address, gaveUp.Token));
        var staying = throttle.BeginAsync(From(address));

        await gaveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving);

        // Ended without a check (say a Redis error before it): the place goes to the one still waiting.
        inProgress[0].Dispose();
        Assert.NotNull(await staying.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task TheLineIsBounded()
    {
        var throttle = new LoginThrottle(_time);
        var address = "192.0.2.6";
        await TakeAllAsync(throttle, address);
        var waiting = Enumerable.Range(0, LoginThrottle.MaxWaiting).Select(_ => throttle.BeginAsync(From(address))).ToList();

        Assert.All(waiting, w => Assert.False(w.IsCompleted));
        Assert.Null(await throttle.BeginAsync(From(address)));
    }
}
